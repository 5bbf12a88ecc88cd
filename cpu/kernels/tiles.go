//go:build (amd64 || arm64) && !noasm

package kernels

// tileRows returns how many weight rows of rowBytes bytes to run through all
// token groups before moving on, so that they are re-read from L2, not memory.
func tileRows(rowBytes int) int {
	const chunkBytes = 128 << 10
	return max(1, chunkBytes/rowBytes)
}

// tileTokens is how many tokens the assembly tile kernels take together
// (MatI2STile, MatF16Tile).
const tileTokens = 4

// forTiles runs tile(r0, nr, t) for each group of tileTokens tokens from t,
// then tile2(r0, nr, t) for a pair of the tokens left (where tile2 is not
// nil), and rows(r0, nr, t) for each token past those, over the nRows
// weight rows of rowBytes bytes: with a group or more, nr rows from r0 at
// a time, in chunks that stay in L2 across the groups (tileRows); with
// fewer tokens, all the rows at once.
func forTiles(rowBytes, nRows, nTok int, tile, tile2, rows func(r0, nr, t int)) {
	chunk := nRows
	if nTok >= tileTokens {
		chunk = tileRows(rowBytes)
	}
	for r0 := 0; r0 < nRows; r0 += chunk {
		nr := min(chunk, nRows-r0)
		t := 0
		for ; t+tileTokens <= nTok; t += tileTokens {
			tile(r0, nr, t)
		}
		if tile2 != nil && t+2 <= nTok {
			tile2(r0, nr, t)
			t += 2
		}
		for ; t < nTok; t++ {
			rows(r0, nr, t)
		}
	}
}

// matF16Tiled is MatF16 on assembly kernels for the first n columns (see
// forTiles): tile (four tokens from x, their outputs from out, ldOut
// apart), tile2 (two tokens; nil: none) and rows (one token) over the nr
// rows from wr. The k-n trailing columns are added in Go.
func matF16Tiled(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut, n int,
	tile, tile2, rows func(wr *uint16, x *float32, nr int, out *float32)) {
	var t2 func(r0, nr, t int)
	if tile2 != nil {
		t2 = func(r0, nr, t int) { tile2(&w[r0*rowLen], &x[t*k], nr, &out[t*ldOut+r0]) }
	}
	forTiles(2*rowLen, nRows, nTok,
		func(r0, nr, t int) { tile(&w[r0*rowLen], &x[t*k], nr, &out[t*ldOut+r0]) }, t2,
		func(r0, nr, t int) { rows(&w[r0*rowLen], &x[t*k], nr, &out[t*ldOut+r0]) })
	if n < k {
		for t := 0; t < nTok; t++ {
			xt := x[t*k+n : (t+1)*k]
			for r := 0; r < nRows; r++ {
				out[t*ldOut+r] += dotF16Generic(w[r*rowLen+n:], xt)
			}
		}
	}
}
