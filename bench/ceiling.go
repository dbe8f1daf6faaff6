package main

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Ceiling is the machine's own limit for password-hash parallelism: argon2id
// with AURA's production parameters, in this process, no HTTP, no database,
// with 1 goroutine and then with one per CPU. Its efficiency is the best any
// server can reach on this machine for login and register.
type Ceiling struct {
	OneRate    float64 `json:"hashes_per_s_1"`
	AllRate    float64 `json:"hashes_per_s_all"`
	CPUs       int     `json:"cpus"`
	Efficiency float64 `json:"efficiency"`
}

func hashRate(workers int, d time.Duration) float64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			salt := make([]byte, 16)
			for time.Now().Before(end) {
				argon2.IDKey([]byte(seedPassword), salt, 2, 19*1024, 1, 32)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

func hashCeiling(d time.Duration) Ceiling {
	c := Ceiling{CPUs: runtime.NumCPU()}
	c.OneRate = hashRate(1, d)
	c.AllRate = hashRate(c.CPUs, d)
	c.Efficiency = c.AllRate / (float64(c.CPUs) * c.OneRate)
	return c
}
