package tiles

import "math/bits"

// bitmask is an n×n grid of cells, a bit each, rows of w 64-bit words.
// Bits past column n-1 (the padding of each row's last word) stay clear.
type bitmask struct {
	n, w int
	bits []uint64
}

func (m *bitmask) reset(n int) {
	m.n, m.w = n, (n+63)/64
	if cap(m.bits) < n*m.w {
		m.bits = make([]uint64, n*m.w)
	}
	m.bits = m.bits[:n*m.w]
	clear(m.bits)
}

func (m *bitmask) row(r int) []uint64 { return m.bits[r*m.w : (r+1)*m.w] }

func (m *bitmask) set(r, c int) { m.bits[r*m.w+c>>6] |= 1 << (c & 63) }

func (m *bitmask) get(r, c int) bool { return m.bits[r*m.w+c>>6]&(1<<(c&63)) != 0 }

// setRange marks columns c0..c1 (inclusive) of row r.
func (m *bitmask) setRange(r, c0, c1 int) {
	row := m.row(r)
	for c0 <= c1 {
		i, b := c0>>6, c0&63
		e := min(c1-(c0-b), 63) // last bit in this word
		row[i] |= (^uint64(0) >> (63 - e)) &^ (1<<b - 1)
		c0 += e - b + 1
	}
}

// next returns the first column ≥ c of row r whose bit is v, or n.
func (m *bitmask) next(r, c int, v bool) int {
	row := m.row(r)
	for c < m.n {
		i := c >> 6
		word := row[i]
		if !v {
			word = ^word
		}
		word &^= 1<<(c&63) - 1
		if word != 0 {
			return min(i<<6+bits.TrailingZeros64(word), m.n)
		}
		c = (i + 1) << 6
	}
	return m.n
}

// padding returns the bits of the last word of a row past column n-1.
func (m *bitmask) padding() uint64 {
	if m.n&63 == 0 {
		return 0
	}
	return ^uint64(0) << (m.n & 63)
}

// close applies a morphological closing (a 3×3 dilation, then a 3×3
// erosion), using tmp as scratch. Cells beyond the grid count as marked for
// the erosion, so that the grid's edges do not shrink.
func (m *bitmask) close(tmp *bitmask) {
	tmp.reset(m.n)
	n, w := m.n, m.w
	pad := m.padding()
	// dilate: rows into tmp, then columns back into m
	for r := range n {
		src, dst := m.row(r), tmp.row(r)
		for i := range w {
			v := src[i] | src[i]<<1 | src[i]>>1
			if i > 0 {
				v |= src[i-1] >> 63
			}
			if i+1 < w {
				v |= src[i+1] << 63
			}
			dst[i] = v
		}
		dst[w-1] &^= pad
	}
	for r := range n {
		dst := m.row(r)
		for i := range w {
			v := tmp.bits[r*w+i]
			if r > 0 {
				v |= tmp.bits[(r-1)*w+i]
			}
			if r+1 < n {
				v |= tmp.bits[(r+1)*w+i]
			}
			dst[i] = v
		}
	}
	// erode: rows into tmp, then columns back into m; outside is marked
	for r := range n {
		src, dst := m.row(r), tmp.row(r)
		src[w-1] |= pad
		for i := range w {
			left := src[i]<<1 | 1 // column -1 is marked
			if i > 0 {
				left = src[i]<<1 | src[i-1]>>63
			}
			right := src[i]>>1 | 1<<63 // past the last word is marked
			if i+1 < w {
				right = src[i]>>1 | src[i+1]<<63
			}
			dst[i] = src[i] & left & right
		}
		src[w-1] &^= pad
		dst[w-1] &^= pad
	}
	for r := range n {
		dst := m.row(r)
		for i := range w {
			v := tmp.bits[r*w+i]
			if r > 0 {
				v &= tmp.bits[(r-1)*w+i]
			}
			if r+1 < n {
				v &= tmp.bits[(r+1)*w+i]
			}
			dst[i] = v
		}
	}
}
