package vessels

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// BenchmarkAnalyze times Analyze on synthetic fundus photographs of 1, 16 and
// 40 megapixels (the image is made before the timer starts). Besides ns/op
// and B/op it reports ms/op and the peak heap seen while analysing
// (peak-heap-MB, the input image included).
//
//	go test ./analysis/vessels -run '^$' -bench Analyze -benchtime 3x
func BenchmarkAnalyze(b *testing.B) {
	for _, size := range [][2]int{{1024, 1024}, {4096, 4096}, {8000, 5000}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			img := Synth(SynthOptions{Width: size[0], Height: size[1], Seed: 1}).Image
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			var peak uint64
			for i := 0; i < b.N; i++ {
				done := make(chan struct{})
				peakc := make(chan uint64)
				go samplePeakHeap(done, peakc)
				res, err := Analyze(context.Background(), img)
				close(done)
				peak = max(peak, <-peakc)
				if err != nil || res.VesselMap == nil {
					b.Fatalf("analyze: %v", err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// samplePeakHeap samples the live heap every millisecond until done, then
// sends the largest value seen.
func samplePeakHeap(done <-chan struct{}, out chan<- uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	for {
		metrics.Read(s)
		peak = max(peak, s[0].Value.Uint64())
		select {
		case <-done:
			out <- peak
			return
		case <-time.After(time.Millisecond):
		}
	}
}
