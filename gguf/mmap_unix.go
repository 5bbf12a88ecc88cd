//go:build unix

package gguf

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Open maps path read-only and parses it. Tensor data returned by TensorData
// aliases the mapping (no copy); Close unmaps it. Pages are read on first
// touch.
func Open(path string) (*File, error) { return openMapped(path, false) }

// OpenResident maps path like Open and faults the whole mapping in before it
// returns, as inference reads every weight anyway. On Linux it also makes
// sure the mapping is backed by 2 MiB page-cache folios, which the kernel
// maps with huge-page entries: memory-bound kernels stream a 4 KiB-page file
// mapping about 10-15% slower (TLB misses). A file freshly written or
// downloaded sits in the page cache in small folios; OpenResident then drops
// this file's unmapped clean pages and reads it again once, which costs one
// read of the file from disk and lasts as long as the pages stay cached. Set
// BITNET_MMAP_RECACHE=0 to skip that step.
func OpenResident(path string) (*File, error) { return openMapped(path, true) }

func openMapped(path string, resident bool) (*File, error) {
	fd, size, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	data, err := mapFile(fd, size)
	if err != nil {
		return nil, fmt.Errorf("gguf: mmap %s: %w", path, err)
	}
	if resident {
		settleMapping(fd, data)
	}
	f, err := ReadBytes(data)
	if err != nil {
		unix.Munmap(data)
		return nil, fmt.Errorf("%s: %w", path, err) // ReadBytes' errors name the package
	}
	f.closer = func() error { return unix.Munmap(data) }
	return f, nil
}

// OpenInMemory reads path into anonymous memory (asking the kernel for
// transparent huge pages) and parses it. It costs a read of the whole file
// at open and keeps a private copy, but the weights then sit on 2 MiB pages:
// memory-bound kernels stream them measurably faster than through the 4 KiB
// pages of a file mapping. Close frees the copy.
func OpenInMemory(path string) (*File, error) {
	fd, size, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	data, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("gguf: allocate %d bytes for %s: %w", size, path, err)
	}
	adviseHugePages(data)
	if _, err := io.ReadFull(fd, data); err != nil {
		unix.Munmap(data)
		return nil, fmt.Errorf("gguf: read %s: %w", path, err)
	}
	f, err := ReadBytes(data)
	if err != nil {
		unix.Munmap(data)
		return nil, fmt.Errorf("%s: %w", path, err) // ReadBytes' errors name the package
	}
	f.closer = func() error { return unix.Munmap(data) }
	return f, nil
}

// mapFile maps the whole of fd read-only and shared.
func mapFile(fd *os.File, size int64) ([]byte, error) {
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	adviseHugePages(data)
	return data, nil
}

// openFile opens path and returns its size, which must be non-zero.
func openFile(path string) (*os.File, int64, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("gguf: %w", err)
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, 0, fmt.Errorf("gguf: %w", err)
	}
	if st.Size() == 0 {
		fd.Close()
		return nil, 0, fmt.Errorf("gguf: %s: %w: empty file", path, ErrFormat)
	}
	return fd, st.Size(), nil
}

// prefault reads one byte of every page of data.
func prefault(data []byte) {
	page := os.Getpagesize()
	var sink byte
	for i := 0; i < len(data); i += page {
		sink += data[i]
	}
	prefaultSink = sink
}

var prefaultSink byte
