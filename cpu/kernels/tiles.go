//go:build (amd64 || arm64) && !noasm

package kernels

// tileRows returns how many weight rows of rowBytes bytes to run through all
// token groups before moving on, so that they are re-read from L2, not memory.
func tileRows(rowBytes int) int {
	const chunkBytes = 128 << 10
	return max(1, chunkBytes/rowBytes)
}

// matF16Tiled is MatF16 on assembly kernels for the first n columns: tile
// (four tokens from x, their outputs from out, ldOut apart) and rows (one
// token) over the nr rows from wr; with four tokens or more, rows go in
// chunks that stay in L2 across the token groups. The k-n trailing columns
// are added in Go.
func matF16Tiled(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut, n int,
	tile, rows func(wr *uint16, x *float32, nr int, out *float32)) {
	chunk := tileRows(2 * rowLen)
	if nTok < 4 {
		chunk = nRows
	}
	for r0 := 0; r0 < nRows; r0 += chunk {
		nr := min(chunk, nRows-r0)
		wr := &w[r0*rowLen]
		t := 0
		for ; t+4 <= nTok; t += 4 {
			tile(wr, &x[t*k], nr, &out[t*ldOut+r0])
		}
		for ; t < nTok; t++ {
			rows(wr, &x[t*k], nr, &out[t*ldOut+r0])
		}
	}
	if n < k {
		for t := 0; t < nTok; t++ {
			xt := x[t*k+n : (t+1)*k]
			for r := 0; r < nRows; r++ {
				out[t*ldOut+r] += dotF16Generic(w[r*rowLen+n:], xt)
			}
		}
	}
}
