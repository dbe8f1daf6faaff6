package vessels

import (
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// BenchmarkAnalyze times Analyze on synthetic fundus photographs of 1, 4, 16
// and 40 megapixels (the image is made before the timer starts). Besides
// ns/op and B/op it reports ms/op, the process's CPU time per analysis
// (cpu-ms/op: with -cpu 1, the time on one core of an otherwise idle
// machine, give or take the heap sampler's share), the peak heap seen while analysing
// (peak-heap-MB, the input image included) and the peak extra memory of the
// analysis (peak-extra-MB: that peak less the live heap, input included,
// just before it started).
//
//	go test ./analysis/vessels -run '^$' -bench Analyze -benchmem -count 3 -cpu 1
func BenchmarkAnalyze(b *testing.B) {
	for _, size := range [][2]int{{1024, 1024}, {2048, 2048}, {4096, 4096}, {8000, 5000}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			img := Synth(SynthOptions{Width: size[0], Height: size[1], Seed: 1}).Image
			runtime.GC()
			before := liveHeap()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
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
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(peak-min(peak, before))/(1<<20), "peak-extra-MB")
		})
	}
}

// liveHeap is the heap held by objects now (live or not yet collected).
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
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

// BenchmarkEncodeMaps times what the screening worker does with a result
// besides Analyze: the vessel map and the artery/vein map encoded as PNG
// (BestSpeed, as the worker does) and the overlay as JPEG (quality 85).
//
//	go test ./analysis/vessels -run '^$' -bench EncodeMaps -benchmem -cpu 1
func BenchmarkEncodeMaps(b *testing.B) {
	for _, size := range [][2]int{{2048, 2048}, {8000, 5000}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			img := Synth(SynthOptions{Width: size[0], Height: size[1], Seed: 1}).Image
			res, err := Analyze(context.Background(), img)
			if err != nil {
				b.Fatal(err)
			}
			enc := &png.Encoder{CompressionLevel: png.BestSpeed}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, m := range []image.Image{res.VesselMap, res.AVMap} {
					if err := enc.Encode(io.Discard, m); err != nil {
						b.Fatal(err)
					}
				}
				if err := jpeg.Encode(io.Discard, res.Overlay, &jpeg.Options{Quality: 85}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
