//go:build !linux

package queue

import "errors"

func setThreadNice(int) error { return errors.New("thread niceness is set on Linux only") }

func threadNice() (int, error) { return 0, errors.New("thread niceness is read on Linux only") }
