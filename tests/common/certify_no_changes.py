"""Certifies a PDF with DocMDP P=1 (no changes allowed) using pyHanko.

Usage: python3 certify_no_changes.py IN OUT KEY_PEM CERT_PEM CHAIN_PEM...

pyHanko's CLI `--certify` always uses P=2 (form filling), hence this script.
"""
import sys

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    src, dst, key, cert, *chain = argv[1:]
    signer = signers.SimpleSigner.load(
        key, cert, ca_chain_files=tuple(chain), key_passphrase=None
    )
    if signer is None:
        sys.exit("pyHanko could not load the key or certificate")
    meta = signers.PdfSignatureMetadata(
        field_name="Cert1",
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    with open(src, "rb") as inf, open(dst, "wb") as outf:
        writer = IncrementalPdfFileWriter(inf)
        signers.sign_pdf(writer, meta, signer=signer, output=outf)


if __name__ == "__main__":
    main(sys.argv)
