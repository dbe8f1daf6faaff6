package queue

import "syscall"

// setThreadNice lowers the scheduling priority of the calling OS thread (on
// Linux, setpriority with a thread id applies to that thread alone).
func setThreadNice(nice int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
