package main

import (
	"fmt"
	"html"
	"io"
	"math"
)

// plot writes an SVG of small bar charts, one per metric, a bar per server
// (the median of its runs).
func (res results) plot(w io.Writer) {
	const (
		pw, ph   = 300, 190 // one panel
		cols     = 3
		barW     = 56
		top, bot = 54, 40
	)
	colors := map[string]string{ours: "#2b7bb9", "prosody": "#9a9a9a", "ejabberd": "#d08a2e"}
	rows := (len(metrics) + cols - 1) / cols
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", cols*pw, rows*ph)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, m := range metrics {
		x0, y0 := (i%cols)*pw, (i/cols)*ph
		fmt.Fprintf(w, `<g transform="translate(%d,%d)">`+"\n", x0, y0)
		better := "lower is better"
		if m.higher {
			better = "higher is better"
		}
		fmt.Fprintf(w, `<text x="8" y="16" font-weight="bold">%s</text>`+"\n", html.EscapeString(clip(res.titleOf(m), 44)))
		fmt.Fprintf(w, `<text x="8" y="30" fill="#555">%s%s</text>`+"\n", html.EscapeString(unitText(m.unit)), better)
		vals := make([]float64, len(servers))
		hi := 0.0
		for j, s := range servers {
			v, _ := res.median(m, s)
			vals[j] = v
			if !math.IsNaN(v) {
				hi = max(hi, v)
			}
		}
		if hi <= 0 {
			hi = 1
		}
		h := float64(ph - top - bot)
		base := float64(ph - bot)
		for j, s := range servers {
			x := 30 + j*(barW+24)
			v := vals[j]
			label := num(v)
			if !math.IsNaN(v) {
				bh := h * v / hi
				fmt.Fprintf(w, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"/>`+"\n", x, base-bh, barW, bh, colors[s])
				fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="middle">%s</text>`+"\n", x+barW/2, base-bh-3, label)
			} else {
				fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="middle" fill="#999">n/a</text>`+"\n", x+barW/2, base-3)
			}
			fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="middle">%s</text>`+"\n", x+barW/2, base+14, s)
		}
		fmt.Fprintf(w, `<line x1="20" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", base, pw-20, base)
		fmt.Fprintln(w, `</g>`)
	}
	fmt.Fprintln(w, `</svg>`)
}

func unitText(u string) string {
	switch u {
	case "", "/s":
		return ""
	}
	return u + ", "
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
