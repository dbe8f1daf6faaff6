package queue

import "syscall"

// setThreadNice lowers the scheduling priority of the calling OS thread (on
// Linux, setpriority with a thread id applies to that thread alone).
func setThreadNice(nice int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}

// threadNice is the calling OS thread's niceness.
func threadNice() (int, error) {
	// The raw syscall answers 20 - nice, so that it is never negative.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - p, err
}
