package cpu

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 2000000; i++ {
		x := -float32(i) * (87.3 / 2000000)
		got := float64(expf(x))
		want := math.Exp(float64(x))
		ulp := float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want))
		if e := math.Abs(got-want) / ulp; e > worst {
			worst = e
		}
	}
	if worst > 2 {
		t.Fatalf("expf is off by %.2f ulp", worst)
	}
	t.Logf("worst error %.2f ulp", worst)
	if expf(-100) != 0 || expf(0) != 1 {
		t.Fatalf("expf(-100) = %g, expf(0) = %g", expf(-100), expf(0))
	}
}
