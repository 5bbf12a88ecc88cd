package cpu

import "math"

// expf returns e^x for x <= 0 in float32 arithmetic (the Cephes expf
// polynomial): within 2 ulp of the correctly rounded value, and 0 below
// -87.3. The fast path uses it for softmax weights after the row maximum is
// subtracted; the reference uses float32(math.Exp(float64(x))).
func expf(x float32) float32 {
	if x < -87.3 {
		return 0
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	n := int32(x*log2e - 0.5) // round to nearest for x <= 0
	fn := float32(n)
	r := x - fn*c1 - fn*c2
	z := r * r
	y := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r+5.0000001201e-1)*z + r) + 1
	return y * math.Float32frombits(uint32(n+127)<<23)
}
