package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
)

// The cost of encryption at rest per upload and per read (docs/performance.md,
// "Encryption at rest"):
//
//	go test ./storage -run '^$' -bench 'Crypt' -benchtime 20x -count 3
//
// Seal and Open are the encryption and the decryption alone (in memory, a
// local master key); Put and Get are the store's own calls on a file store
// in a temporary directory, in the clear and encrypted, so that the
// difference is what encryption adds to an upload or a read.
func BenchmarkCrypt(b *testing.B) {
	ctx := context.Background()
	keeper, _ := testKeeper(b)
	for _, size := range []int{1 << 20, 8 << 20} {
		data := randomBytes(size)
		name := fmt.Sprintf("%dMiB", size>>20)
		s := openCrypt(b, b.TempDir(), keeper, 0)
		var sealed bytes.Buffer
		b.Run("Seal/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				sealed.Reset()
				r, err := s.sealStream(ctx, "k", bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(&sealed, r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Open/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			stored := sealed.Bytes()
			for b.Loop() {
				rc, n, err := s.open(ctx, "k", io.NopCloser(bytes.NewReader(stored)), int64(len(stored)))
				if err != nil || n != int64(size) {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, mode := range []struct {
			name   string
			keeper Keeper
		}{{"clear", nil}, {"encrypted", keeper}} {
			st := openCrypt(b, b.TempDir(), mode.keeper, 0)
			b.Run("Put/"+mode.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := st.Put(ctx, "screenings/ab/obj", bytes.NewReader(data), "image/jpeg"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Get/"+mode.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					rc, _, err := st.Get(ctx, "screenings/ab/obj")
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, rc); err != nil {
						b.Fatal(err)
					}
					rc.Close()
				}
			})
			b.Run("GetVerified/"+mode.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					rc, _, err := st.GetVerified(ctx, "screenings/ab/obj")
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, rc); err != nil {
						b.Fatal(err)
					}
					rc.Close()
				}
			})
		}
	}
}
