package client

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"

	"github.com/valyala/bytebufferpool"
)

// permessage-deflate without context takeover (RFC 7692 §7.2): each
// message is compressed by a pooled writer reset per message, and
// decompressed by a pooled reader reset per message, so a connection holds
// no compression state between messages.

var (
	flateWriters [10]sync.Pool // by level 0–9
	flateReaders sync.Pool
)

// tail is what RFC 7692 §7.2.2 has the receiver append, followed by an
// empty final stored block so the inflater ends cleanly.
var tail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

func compress(dst *bytebufferpool.ByteBuffer, p []byte, level int) error {
	if level < 0 || level > 9 {
		level = 1
	}
	var fw *flate.Writer
	if v := flateWriters[level].Get(); v != nil {
		fw = v.(*flate.Writer)
		fw.Reset(dst)
	} else {
		var err error
		if fw, err = flate.NewWriter(dst, level); err != nil {
			return err
		}
	}
	_, err := fw.Write(p)
	if err == nil {
		err = fw.Flush()
	}
	fw.Reset(io.Discard) // drop the reference to dst
	flateWriters[level].Put(fw)
	if err != nil {
		return err
	}
	// RFC 7692 §7.2.1: remove the 00 00 ff ff of the sync flush.
	if n := len(dst.B); n >= 4 && bytes.Equal(dst.B[n-4:], tail[:4]) {
		dst.B = dst.B[:n-4]
	}
	return nil
}

type inflater struct {
	fr  io.ReadCloser
	src bytes.Reader
	tl  bytes.Reader
}

func decompress(dst *bytebufferpool.ByteBuffer, p []byte, max int64) error {
	var z *inflater
	if v := flateReaders.Get(); v != nil {
		z = v.(*inflater)
	} else {
		z = &inflater{}
	}
	z.src.Reset(p)
	z.tl.Reset(tail)
	mr := io.MultiReader(&z.src, &z.tl)
	if z.fr == nil {
		z.fr = flate.NewReader(mr)
	} else {
		_ = z.fr.(flate.Resetter).Reset(mr, nil)
	}
	var buf [512]byte
	var err error
	for {
		var n int
		n, err = z.fr.Read(buf[:])
		dst.B = append(dst.B, buf[:n]...)
		if int64(len(dst.B)) > max {
			err = ErrTooLarge
			break
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			break
		}
	}
	z.src.Reset(nil)
	flateReaders.Put(z)
	return err
}
