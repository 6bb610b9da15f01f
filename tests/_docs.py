"""Real document files for loader and ingest tests, generated with the libraries users' tools use.

Every bad-input kind the issue names has a maker here, so the loader tests and the batch ingest test
exercise the same files: encrypted, corrupt, empty and image-only PDFs, an unreadable path, an
unknown file type and non-UTF-8 text.
"""

from __future__ import annotations

from pathlib import Path

GOTHIC = "HeiseiKakuGo-W5"


def text_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    """A PDF with a real text layer (reportlab's built-in Japanese CID font), one list per page."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if GOTHIC not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(GOTHIC))
    pdf = canvas.Canvas(str(path))
    if title:
        pdf.setTitle(title)
    for lines in pages:
        pdf.setFont(GOTHIC, 11)
        for i, line in enumerate(lines):
            pdf.drawString(60, 780 - 18 * i, line)
        pdf.showPage()
    pdf.save()
    return path


def encrypted_pdf(path: Path, password: str = "secret") -> Path:
    """A text PDF locked with a user password (pypdf's standard encryption)."""
    from pypdf import PdfWriter

    plain = text_pdf(path.with_name(path.stem + "-plain.tmp"), [["公民連携デスクの内部資料。"]])
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password=password, owner_password="owner-" + password)
    writer.write(str(path))
    plain.unlink()
    return path


def image_only_pdf(path: Path, pages: int = 2) -> Path:
    """A scanned-looking PDF: pages with drawn shapes and an inline image, no text layer."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    for n in range(pages):
        pdf.rect(80, 200 + 10 * n, 300, 400, fill=1)
        pdf.circle(300, 500, 40, fill=0)
        pdf.showPage()
    pdf.save()
    return path


def truncated_pdf(path: Path) -> Path:
    """A PDF cut off mid-download: the first third of a valid file."""
    whole = text_pdf(path.with_name(path.stem + "-whole.tmp"), [["途中で切れたファイル。"]]).read_bytes()
    path.with_name(path.stem + "-whole.tmp").unlink()
    path.write_bytes(whole[: len(whole) // 3])
    return path


def garbage_pdf(path: Path) -> Path:
    """A file that claims to be a PDF but is binary noise after the header."""
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 16)
    return path


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


# Makes each DOCX section long enough to be a chunk of its own, so section paths are exact.
LONG = "相談の内容は記録され、担当課と共有される。" * 8


def docx_file(path: Path) -> Path:
    """A Word document with a title, two heading levels, paragraphs and a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "実証実験サポート事業の手引き"
    document.core_properties.author = "青森市 企画部 連携推進課"
    document.core_properties.keywords = "doc_type=guide; city=青森市"
    document.add_heading("実証実験サポート事業の手引き", level=0)
    document.add_heading("申請の流れ", level=1)
    document.add_paragraph("事業者は担当課と事前に相談する。" + LONG)
    document.add_heading("必要書類", level=2)
    document.add_paragraph("提案書と事業計画書を提出する。" + LONG)
    document.add_heading("審査", level=1)
    document.add_paragraph("審査の結果は書面で通知する。" + LONG)
    table = document.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "書類", (0, 1): "様式", (1, 0): "提案書", (1, 1): "様式第1号"}.items():
        table.cell(r, c).text = text
    document.save(str(path))
    return path


HTML = """<!doctype html>
<html><head><title>公民連携ポータル</title>
<meta name="doc_type" content="portal"><meta name="city" content="青森市">
<style>.lead { color: red; }</style>
<script>var tracking = "SCRIPT_SHOULD_NOT_APPEAR";</script></head>
<body>
<nav>メニュー NAV_SHOULD_NOT_APPEAR</nav>
<h1>公民連携ポータル</h1>
<p>公民連携に関する情報を一元的に発信する。</p>
<h2>相談窓口</h2>
<p>事前相談は随時受け付ける。</p>
<ul><li>電話での相談</li><li>メールでの相談</li></ul>
<footer>FOOTER_SHOULD_NOT_APPEAR</footer>
</body></html>
"""


def html_file(path: Path) -> Path:
    path.write_text(HTML, "utf-8")
    return path


def markdown_file(path: Path, title: str, body: str, **meta: str) -> Path:
    """A Markdown document with YAML front matter, as the bundled corpus has."""
    front = "\n".join(f"{k}: {v}" for k, v in {"title": title, "doc_type": "note", **meta}.items())
    path.write_text(f"---\n{front}\n---\n\n# {title}\n\n{body}\n", "utf-8")
    return path


def shift_jis_text(path: Path) -> Path:
    """A text file saved in Shift_JIS, as old municipal documents often are."""
    path.write_bytes("青森市の公民連携デスクについて。".encode("shift_jis"))
    return path


def latin1_text(path: Path) -> Path:
    """Text in no encoding the loaders accept: Latin-1 (byte 3 is an invalid UTF-8 start)."""
    path.write_bytes("café crème, déjà vu".encode("latin-1"))
    return path


def broken_symlink(path: Path) -> Path:
    """A document path that cannot be read, even by root: a link to a file that is gone."""
    path.symlink_to(path.with_name("gone-" + path.name))
    return path
