//go:build cgo && (amd64 || arm64)

package layoutcheck

import (
	"bitnet/internal/testdata"
	"sort"
	"testing"
)

func TestLayoutMatchesC(t *testing.T) {
	c := cLayout()
	if len(c) == 0 {
		testdata.SkipUnlessCI(t, "vulkan/vulkan.h not found: install the Vulkan headers (libvulkan-dev) to check the generated layouts")
	}
	keys := make([]string, 0, len(goLayout))
	for k := range goLayout {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cv, ok := c[k]
		if !ok {
			t.Errorf("%s: missing from the C table", k)
			continue
		}
		if gv := goLayout[k]; gv != cv {
			t.Errorf("%s: Go %d, C %d", k, gv, cv)
		}
	}
	if len(c) != len(goLayout) {
		t.Errorf("C table has %d entries, Go table %d", len(c), len(goLayout))
	}
	t.Logf("checked %d sizes, alignments and offsets", len(keys))
}
