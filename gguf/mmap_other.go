//go:build !unix

package gguf

import (
	"fmt"
	"os"
)

// Open reads path into memory and parses it (no mmap on this platform).
func Open(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := ReadBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err) // ReadBytes' errors name the package
	}
	return f, nil
}

// OpenInMemory reads path into memory and parses it (the same as Open on
// this platform).
func OpenInMemory(path string) (*File, error) { return Open(path) }

// OpenResident is Open on this platform (the file is read into memory).
func OpenResident(path string) (*File, error) { return Open(path) }
