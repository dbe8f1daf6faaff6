//go:build !linux

package queue

import "errors"

func setThreadNice(int) error { return errors.New("thread niceness is set on Linux only") }
