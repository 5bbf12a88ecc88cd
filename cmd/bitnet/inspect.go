package main

import (
	"bitnet/engine"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"bitnet/gguf"
)

func init() {
	register(&command{
		name:  "inspect",
		usage: "inspect FILE [--json] [--items N]",
		short: "Print a GGUF file's metadata, tensor table and whether this engine can load it.",
		run:   runInspect,
	})
}

// inspectReport is the --json output. Field names and meanings are stable:
//
//	file          path as given
//	version       GGUF version (2 or 3)
//	alignment     tensor data alignment in bytes
//	file_size     bytes
//	data_offset   absolute offset of the tensor data section
//	metadata      entries in file order: key, type (a GGUF value type name),
//	              value for scalars (floats that are not finite are the strings
//	              "NaN", "+Inf", "-Inf"), array for arrays
//	array         elem_type, len, first (at most --items elements; elements of
//	              nested arrays are arrays themselves)
//	tensors       in file order: name, type (ggml name), type_id, shape (ggml
//	              order, shape[0] contiguous), elements, bytes, offset (relative
//	              to data_offset)
//	totals        tensors, data_bytes (sum of tensor bytes), by_type: per type in
//	              type-id order: type, count, bytes
//	check         architecture (general.architecture, "" if absent), verdict
//	              ("compatible", "incompatible" or "vocab-only"), message,
//	              problems: kind (architecture, metadata, missing, shape, type,
//	              unused, vocab-only), tensor (if any), message
type inspectReport struct {
	File       string          `json:"file"`
	Version    uint32          `json:"version"`
	Alignment  int64           `json:"alignment"`
	FileSize   int64           `json:"file_size"`
	DataOffset int64           `json:"data_offset"`
	Metadata   []inspectKV     `json:"metadata"`
	Tensors    []inspectTensor `json:"tensors"`
	Totals     inspectTotals   `json:"totals"`
	Check      inspectCheck    `json:"check"`
}

type inspectKV struct {
	Key   string        `json:"key"`
	Type  string        `json:"type"`
	Value any           `json:"value,omitempty"`
	Array *inspectArray `json:"array,omitempty"`
}

type inspectArray struct {
	ElemType string `json:"elem_type"`
	Len      int    `json:"len"`
	First    []any  `json:"first"`
}

type inspectTensor struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	TypeID   uint32  `json:"type_id"`
	Shape    []int64 `json:"shape"`
	Elements int64   `json:"elements"`
	Bytes    int64   `json:"bytes"`
	Offset   int64   `json:"offset"`
}

type inspectTotals struct {
	Tensors   int               `json:"tensors"`
	DataBytes int64             `json:"data_bytes"`
	ByType    []inspectTypeStat `json:"by_type"`
}

type inspectTypeStat struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

type inspectCheck struct {
	Architecture string           `json:"architecture"`
	Verdict      string           `json:"verdict"`
	Message      string           `json:"message"`
	Problems     []engine.Problem `json:"problems"`
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	c := commands["inspect"]
	fs := newFlagSet(c, stderr)
	asJSON := fs.Bool("json", false, "print a JSON report (fields documented in the source: inspectReport)")
	items := fs.Int("items", 8, "array elements shown per metadata array")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("want exactly one FILE, got %d arguments", len(pos))
	}
	if *items < 0 {
		return usageErrorf("--items must not be negative")
	}
	f, err := gguf.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	rep := buildInspectReport(pos[0], f, *items)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	return printInspect(stdout, rep)
}

func buildInspectReport(path string, f *gguf.File, items int) inspectReport {
	rep := inspectReport{
		File: path, Version: f.Version, Alignment: f.Alignment,
		FileSize: f.FileSize, DataOffset: f.DataOffset,
		Metadata: []inspectKV{}, Tensors: []inspectTensor{},
	}
	for _, kv := range f.KV {
		e := inspectKV{Key: kv.Key, Type: kv.Type.String()}
		if a, ok := kv.Value.(gguf.Array); ok {
			e.Array = summarizeArray(a, items)
		} else {
			e.Value = jsonScalar(kv.Value)
		}
		rep.Metadata = append(rep.Metadata, e)
	}
	byType := map[gguf.DType]*inspectTypeStat{}
	for _, t := range f.Tensors {
		rep.Tensors = append(rep.Tensors, inspectTensor{
			Name: t.Name, Type: t.Type.String(), TypeID: uint32(t.Type), Shape: t.Shape,
			Elements: t.Elements(), Bytes: t.Size, Offset: t.Offset,
		})
		s := byType[t.Type]
		if s == nil {
			s = &inspectTypeStat{Type: t.Type.String()}
			byType[t.Type] = s
		}
		s.Count++
		s.Bytes += t.Size
		rep.Totals.DataBytes += t.Size
	}
	rep.Totals.Tensors = len(f.Tensors)
	rep.Totals.ByType = []inspectTypeStat{}
	types := make([]gguf.DType, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		rep.Totals.ByType = append(rep.Totals.ByType, *byType[t])
	}
	rep.Check = checkVerdict(f)
	return rep
}

func checkVerdict(f *gguf.File) inspectCheck {
	arch, _ := f.Architecture()
	probs := engine.CheckModel(f)
	c := inspectCheck{Architecture: arch, Problems: probs}
	if c.Problems == nil {
		c.Problems = []engine.Problem{}
	}
	unused := 0
	for _, p := range probs {
		if p.Kind == engine.ProblemUnused {
			unused++
		}
	}
	switch {
	case len(probs) == 1 && probs[0].Kind == engine.ProblemVocabOnly:
		c.Verdict, c.Message = "vocab-only", "vocab only, no tensors"
	case engine.Compatible(probs):
		c.Verdict = "compatible"
		p, err := engine.ConfigFromGGUF(f)
		if err == nil {
			c.Message = fmt.Sprintf("loadable as %s: %d layers, n_embd %d, %d heads (%d kv), n_ff %d, vocab %d",
				arch, p.NLayer, p.NEmbd, p.NHead, p.NHeadKV, p.NFF, p.NVocab)
		}
		if unused > 0 {
			c.Message += fmt.Sprintf("; %d unused tensors ignored", unused)
		}
	default:
		c.Verdict = "incompatible"
		c.Message = fmt.Sprintf("cannot be loaded: %d problems", len(probs)-unused)
	}
	return c
}

// jsonScalar makes a metadata scalar JSON-encodable: floats keep their
// shortest decimal form; non-finite floats become strings.
func jsonScalar(v any) any {
	switch x := v.(type) {
	case float32:
		return jsonFloat(float64(x), 32)
	case float64:
		return jsonFloat(x, 64)
	}
	return v
}

func jsonFloat(x float64, bits int) any {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return json.Number(strconv.FormatFloat(x, 'g', -1, bits))
}

func summarizeArray(a gguf.Array, items int) *inspectArray {
	s := &inspectArray{ElemType: a.Elem.String(), Len: a.Len(), First: []any{}}
	n := 0
	eachArrayElem(a, func(v any) bool {
		if n >= items {
			return false
		}
		n++
		if sub, ok := v.(gguf.Array); ok {
			s.First = append(s.First, summarizeArray(sub, items))
		} else {
			s.First = append(s.First, jsonScalar(v))
		}
		return true
	})
	return s
}

func eachArrayElem(a gguf.Array, f func(any) bool) {
	visit := func(n int, at func(int) any) {
		for i := 0; i < n && f(at(i)); i++ {
		}
	}
	switch v := a.Values.(type) {
	case []uint8:
		visit(len(v), func(i int) any { return v[i] })
	case []int8:
		visit(len(v), func(i int) any { return v[i] })
	case []uint16:
		visit(len(v), func(i int) any { return v[i] })
	case []int16:
		visit(len(v), func(i int) any { return v[i] })
	case []uint32:
		visit(len(v), func(i int) any { return v[i] })
	case []int32:
		visit(len(v), func(i int) any { return v[i] })
	case []float32:
		visit(len(v), func(i int) any { return v[i] })
	case []bool:
		visit(len(v), func(i int) any { return v[i] })
	case []string:
		visit(len(v), func(i int) any { return v[i] })
	case []uint64:
		visit(len(v), func(i int) any { return v[i] })
	case []int64:
		visit(len(v), func(i int) any { return v[i] })
	case []float64:
		visit(len(v), func(i int) any { return v[i] })
	case []gguf.Array:
		visit(len(v), func(i int) any { return v[i] })
	}
}

const maxTextValue = 160

func textValue(v any) string {
	switch x := v.(type) {
	case string:
		q := strconv.Quote(x)
		if len(q) > maxTextValue {
			return fmt.Sprintf("%s... (%d bytes)", q[:maxTextValue], len(x))
		}
		return q
	case json.Number:
		return string(x)
	case *inspectArray:
		return textArray(x)
	}
	return fmt.Sprint(v)
}

func textArray(a *inspectArray) string {
	parts := make([]string, len(a.First))
	for i, v := range a.First {
		parts[i] = textValue(v)
	}
	more := ""
	if a.Len > len(a.First) {
		more = ", ..."
	}
	return fmt.Sprintf("[%s x %d] [%s%s]", a.ElemType, a.Len, strings.Join(parts, ", "), more)
}

func printInspect(w io.Writer, r inspectReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file:\t%s\n", r.File)
	fmt.Fprintf(tw, "version:\t%d\n", r.Version)
	fmt.Fprintf(tw, "alignment:\t%d\n", r.Alignment)
	fmt.Fprintf(tw, "file size:\t%d bytes\n", r.FileSize)
	fmt.Fprintf(tw, "tensor data:\tat offset %d, %d bytes\n", r.DataOffset, r.Totals.DataBytes)
	fmt.Fprintf(tw, "\nmetadata (%d):\n", len(r.Metadata))
	for _, kv := range r.Metadata {
		if kv.Array != nil {
			fmt.Fprintf(tw, "  %s\tarray\t%s\n", kv.Key, textArray(kv.Array))
		} else {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", kv.Key, kv.Type, textValue(kv.Value))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntensors (%d):\n", len(r.Tensors))
	if len(r.Tensors) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  name\ttype\tshape\tbytes\toffset\n")
		for _, t := range r.Tensors {
			dims := make([]string, len(t.Shape))
			for i, d := range t.Shape {
				dims[i] = strconv.FormatInt(d, 10)
			}
			fmt.Fprintf(tw, "  %s\t%s\t[%s]\t%d\t%d\n", t.Name, t.Type, strings.Join(dims, ", "), t.Bytes, t.Offset)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\ntotals:\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, s := range r.Totals.ByType {
		fmt.Fprintf(tw, "  %s\t%d tensors\t%d bytes\t\n", s.Type, s.Count, s.Bytes)
	}
	fmt.Fprintf(tw, "  all\t%d tensors\t%d bytes\t\n", r.Totals.Tensors, r.Totals.DataBytes)
	if err := tw.Flush(); err != nil {
		return err
	}
	arch := r.Check.Architecture
	if arch == "" {
		arch = "(none)"
	}
	fmt.Fprintf(w, "\narchitecture: %s\nverdict: %s: %s\n", arch, r.Check.Verdict, r.Check.Message)
	for _, p := range r.Check.Problems {
		if p.Kind != engine.ProblemVocabOnly {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	return nil
}
