package fossil

// Digits is the base-64 alphabet of the format's numbers: the digit with
// value v is Digits[v].
const Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"

// noDigit marks a byte of digitValue that is not a digit.
const noDigit = 0xff

// digitValue maps a byte to its digit value, or noDigit.
var digitValue = func() (t [256]byte) {
	for i := range t {
		t[i] = noDigit
	}
	for v := range len(Digits) {
		t[Digits[v]] = byte(v)
	}
	return t
}()

// digitCount returns how many digits appendNumber writes for v (1 for 0).
func digitCount(v uint64) int {
	n := 1
	for v >= 64 {
		v >>= 6
		n++
	}
	return n
}

// appendNumber appends v in base 64, most significant digit first, without
// leading zeros.
func appendNumber(out []byte, v uint64) []byte {
	var buf [11]byte
	i := len(buf)
	for {
		i--
		buf[i] = Digits[v&63]
		v >>= 6
		if v == 0 {
			break
		}
	}
	return append(out, buf[i:]...)
}
