package spec

//go:generate go run ../cmd/simulate diagram --page -o session-diagram.md
