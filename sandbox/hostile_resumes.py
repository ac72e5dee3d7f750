"""Hostile resume files, built on the spot, for the tests and the web benchmark: small uploads that
are expensive to read (the shapes an outside attacker used against the resume upload), and ordinary
ones to compare with. Standard library only; deterministic."""
from __future__ import annotations

import io
import zipfile

_CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                  b'<Default Extension="xml" ContentType="application/xml"/>'
                  b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                  b'wordprocessingml.document.main+xml"/></Types>')
_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         b'officeDocument" Target="word/document.xml"/></Relationships>')
_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _docx(body: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("word/document.xml", b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document '
                    + _W + b"><w:body>" + body + b"</w:body></w:document>")
    return buf.getvalue()


def docx_resume(text: str = "Ada Lovelace\nAnalyst of the Analytical Engine") -> bytes:
    """An ordinary Word resume."""
    paragraphs = b"".join(b"<w:p><w:r><w:t>" + line.encode() + b"</w:t></w:r></w:p>" for line in text.split("\n"))
    return _docx(paragraphs)


def docx_xml_flood(unpacked_bytes: int = 29 * 1024 * 1024) -> bytes:
    """A DOCX of ~100 KB whose document.xml unpacks to just under the 30 MB zip-bomb guard: about a
    million empty paragraphs, each of which python-docx turns into objects."""
    paragraph = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>"
    return _docx(paragraph * (unpacked_bytes // len(paragraph)))


def docx_deep_nesting(depth: int = 200_000) -> bytes:
    """A DOCX whose XML nests elements hundreds of thousands deep."""
    return _docx(b"<w:p>" + b"<w:sdt><w:sdtContent>" * depth + b"</w:sdtContent></w:sdt>" * depth + b"</w:p>")


def _pdf(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _page_pdf(content: bytes) -> bytes:
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                 b"/Resources << /Font << /F1 5 0 R >> >> >>",
                 b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
                 b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def pdf_resume(text: str = "Ada Lovelace, analyst") -> bytes:
    """An ordinary one-page PDF resume."""
    return _page_pdf(b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET")


def pdf_operator_flood(operators: int = 300_000) -> bytes:
    """A PDF of about 5 MB whose one page holds hundreds of thousands of text-showing operators."""
    return _page_pdf(b"BT /F1 1 Tf " + b"1 0 Td (x) Tj " * operators + b"ET")


def pdf_deep_nesting(depth: int = 100_000) -> bytes:
    """A PDF whose page dictionary holds arrays nested a hundred thousand deep."""
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Junk " + b"[" * depth + b"]" * depth + b" >>"])


HOSTILE = {"docx_xml_flood": docx_xml_flood, "docx_deep_nesting": docx_deep_nesting,
           "pdf_operator_flood": pdf_operator_flood, "pdf_deep_nesting": pdf_deep_nesting}
