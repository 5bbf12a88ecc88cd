package cpu

func decodeQ8_0(raw []byte, out []float32)  { panic("Q8_0 pending") }
func decodeTQ2_0(raw []byte, out []float32) { panic("TQ2_0 pending") }
func decodeTQ1_0(raw []byte, out []float32) { panic("TQ1_0 pending") }
