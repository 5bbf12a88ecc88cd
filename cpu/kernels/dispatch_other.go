//go:build !(amd64 || arm64) || noasm

package kernels

// fastImpls returns no assembly paths: this build has none.
func fastImpls() []*impl { return nil }
