package nar

import "io"

func copyBuf(w io.Writer, r io.Reader) (int64, error) { return io.Copy(w, r) }
