#!/usr/bin/env python3
"""Writes the benchmark's input PDFs (stdlib only, so it runs on a bare Debian).

    python3 bench/make_pdfs.py OUTDIR [--pages 200] [--image-bytes 1048576]

OUTDIR/scan.pdf  -- a scan-like document: every page is one raw, unfiltered
                    /DeviceRGB image of random bytes. Random bytes are
                    incompressible, so nothing (filesystem, PDF tool) can
                    shrink the work; a real scan of ~1 MB per page behaves the
                    same way for a signer, which must hash every byte.
OUTDIR/one.pdf   -- a 1-page text document, for the batch throughput test.

Both files use a classic cross-reference table (no object streams), the
layout most office scanners and older producers write; `qpdf --check` passes.
"""

import argparse
import os
import random
import sys

# Fixed seed: the same bytes on every run and machine, so file sizes and the
# work done are identical between runs and comparable between machines.
SEED = 20240601


class PdfWriter:
    """Appends numbered objects to a file and remembers their offsets."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.offsets = {}  # object number -> byte offset of "N 0 obj"
        # The binary comment line tells transfer tools the file is binary.
        self.f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def obj(self, num, body, stream=None):
        self.offsets[num] = self.f.tell()
        self.f.write(b"%d 0 obj\n" % num)
        self.f.write(body)
        if stream is not None:
            self.f.write(b"\nstream\n")
            self.f.write(stream)
            self.f.write(b"\nendstream")
        self.f.write(b"\nendobj\n")

    def finish(self, root):
        size = max(self.offsets) + 1
        xref = self.f.tell()
        self.f.write(b"xref\n0 %d\n" % size)
        # Each entry is exactly 20 bytes, EOL included ("\r\n" form of the
        # two-character end of line the spec requires).
        self.f.write(b"0000000000 65535 f\r\n")
        for n in range(1, size):
            self.f.write(b"%010d 00000 n\r\n" % self.offsets[n])
        self.f.write(b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (size, root))
        self.f.write(b"startxref\n%d\n%%%%EOF\n" % xref)
        self.f.close()


def image_dims(nbytes):
    """Width and height of an 8-bit RGB image of about `nbytes` bytes,
    with roughly an A4 (1 : 1.414) aspect ratio like a portrait scan."""
    pixels = nbytes // 3
    width = max(1, int((pixels / 1.414) ** 0.5))
    height = max(1, pixels // width)
    return width, height


def make_scan(path, pages, image_bytes):
    rng = random.Random(SEED)
    w, h = image_dims(image_bytes)
    length = w * h * 3  # /Length must be exact: raw samples, no filter
    pdf = PdfWriter(path)
    # Objects: 1 catalog, 2 page tree, then 3 per page (page, content, image).
    kids = [3 + 3 * i for i in range(pages)]
    pdf.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    pdf.obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>"
            % (pages, b" ".join(b"%d 0 R" % k for k in kids)))
    content = b"q 595 0 0 842 0 0 cm /Im0 Do Q"  # image fills an A4 page
    for i in range(pages):
        page, cont, img = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
        pdf.obj(page, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
                      b" /Resources << /XObject << /Im0 %d 0 R >> >>"
                      b" /Contents %d 0 R >>" % (img, cont))
        pdf.obj(cont, b"<< /Length %d >>" % len(content), content)
        pdf.obj(img, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d"
                     b" /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>"
                     % (w, h, length), rng.randbytes(length))
    pdf.finish(root=1)


def make_one(path):
    pdf = PdfWriter(path)
    text = b"BT /F1 24 Tf 72 760 Td (Kyso benchmark: one page) Tj ET"
    pdf.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    pdf.obj(2, b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>")
    pdf.obj(3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
               b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>")
    pdf.obj(4, b"<< /Length %d >>" % len(text), text)
    pdf.obj(5, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pdf.finish(root=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--image-bytes", type=int, default=1 << 20,
                    help="approximate size of each page's image (default 1 MiB)")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    scan = os.path.join(args.outdir, "scan.pdf")
    one = os.path.join(args.outdir, "one.pdf")
    make_scan(scan, args.pages, args.image_bytes)
    make_one(one)
    for p in (scan, one):
        print("%s: %d bytes" % (p, os.path.getsize(p)), file=sys.stderr)


if __name__ == "__main__":
    main()
