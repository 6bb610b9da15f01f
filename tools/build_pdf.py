"""Render 資料１ (青森市公民連携デスクの開設について) as the bundled Japanese PDF.

The overview is the one document of the corpus that ships as a PDF, so the PDF loader is exercised on
real Japanese text.  It is built with reportlab's built-in CID fonts (no font files are downloaded or
embedded) and carries its metadata in the PDF info dictionary: Title, Author (issuer), Subject,
Keywords (``doc_type=overview; published=2023-07-25; ...``) and custom ``/DocType``, ``/Published``,
``/Issuer``, ``/City`` and ``/Source`` entries.

Usage::

    python tools/build_pdf.py [OUT_PATH]      # default: knowledge/aomori/overview.pdf

The text is the overview part of ``2023-07-25_ppp-desk_overview-guideline-cases.txt`` verbatim, with
extraction damage repaired (lines joined where the extraction broke a sentence).  Sections 1-3 are on
page 1, sections 4-5 on page 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import escape

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = PROJECT_ROOT / "knowledge" / "aomori" / "overview.pdf"

TITLE = "青森市公民連携デスクの開設について"
ISSUER = "青森市 企画部 連携推進課"
PUBLISHED = "2023-07-25"
DOC_TYPE = "overview"
CITY = "青森市"
SOURCE = "2023-07-25_ppp-desk_overview-guideline-cases.txt（資料１）"
SUBJECT = "資料１ 青森市公民連携デスクの開設について"
KEYWORDS = f"doc_type={DOC_TYPE}; published={PUBLISHED}; issuer={ISSUER}; city={CITY}; source={SOURCE}"

GOTHIC = "HeiseiKakuGo-W5"
MINCHO = "HeiseiMin-W3"

# Top-right header block of the first page, as in the source.
HEADER = ["資料１", "令和５年７月２５日", "企画部連携推進課"]

# (style, text) blocks.  h = section heading, h2 = numbered item, h3 = sub-item, p = paragraph,
# p2/p3 = indented paragraph, li = list line.
PAGE_1: list[tuple[str, str]] = [
    ("h", "１ 背景（ガイドライン P1-4）"),
    ("p", "人口減少やデジタル化など社会情勢が大きく変化していく中で、行政ニーズは複雑化・多様化しており、"
          "民間事業者等のアイデアやノウハウを取り入れる公民連携が行政運営における重要な手段の一つとなっている。"),
    ("p", "本市においては、施設の整備や運営管理に民間活力を取り入れているが、その他の行政課題や地域課題等に"
          "ついても効果的に解決していくため、民間活力を積極的に取り入れる公民連携を推進するもの。"),
    ("h", "２ 事業概要"),
    ("p", "公民が相互の対話を通じて連携し、各々の持つアイデアやノウハウ、資源、ネットワークなどを結集する"
          "ことで、行政課題や地域課題等の解決に資する新たな価値を共創することを目的に、以下の取組を実施する。"),
    ("h2", "（１）公民連携に関する総合窓口「青森市公民連携デスク」の設置（ガイドライン P6）"),
    ("h2", "（２）民間提案制度の導入（ガイドライン P7-11）"),
    ("h3", "① パートナーシップ事業"),
    ("p3", "市及び事業者が相互に役割を担い、連携協定や覚書等により実施するもの"),
    ("h3", "② 実証実験サポート事業"),
    ("p3", "事業者の先端技術を活用した製品・サービス等の実証実験を支援することで、民間事業者の挑戦を"
           "後押しするとともに、行政課題や地域課題等の解決を目指すもの"),
    ("h2", "（３）公民連携に関する情報を一元的に発信するポータルサイトの運営（ガイドライン P12）"),
    ("p2", "URL：https://opencityaomori.studio.site"),
    ("h", "３ 公民連携デスクの役割"),
    ("li", "① 事業者等からの公民連携に関する相談及び提案の受付に関すること。"),
    ("li", "② 事業連携協定の調整に関すること。"),
    ("li", "③ 包括連携協定の調整及び締結に関すること。"),
    ("li", "④ 市内で行う実証実験の調整に関すること。"),
    ("li", "⑤ その他公民連携に必要と認められる事項に関すること。"),
]

PAGE_2: list[tuple[str, str]] = [
    ("h", "４ 事業担当課の役割（ガイドライン P8-11）"),
    ("li", "① 行政課題の発掘（準備が出来次第、照会予定）"),
    ("li", "② 連携事業の実施可否の検討"),
    ("li", "③ 連携事業の実施"),
    ("h", "５ 市の課題に対する提案例"),
    ("li", "・市の施策の推進やコスト削減、合理化につながる実証実験"),
    ("li", "・民間の活動を市と連携して拡充することで市民の満足度を高める事業 など"),
]

# The figure of the source (a diagram extracted after section 5), kept in its reading order.
FIGURE = [
    "民間事業者からの提案",
    "〇担当課での個別対応",
    "〇複数部署にまたがる案件の調整が難航",
    "↓",
    "総合窓口の設置",
    "調整・サポート",
]


def _styles():
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("base", fontName=MINCHO, fontSize=10.5, leading=17, wordWrap="CJK")
    return {
        "header": ParagraphStyle("header", parent=base, alignment=TA_RIGHT, leading=15),
        "title": ParagraphStyle("title", parent=base, fontName=GOTHIC, fontSize=15, leading=22,
                                alignment=TA_CENTER, spaceBefore=10, spaceAfter=14),
        "h": ParagraphStyle("h", parent=base, fontName=GOTHIC, fontSize=12, leading=18,
                            spaceBefore=10, spaceAfter=3),
        "h2": ParagraphStyle("h2", parent=base, fontName=GOTHIC, leftIndent=10.5, spaceBefore=3),
        "h3": ParagraphStyle("h3", parent=base, leftIndent=21),
        "p": ParagraphStyle("p", parent=base, leftIndent=10.5, firstLineIndent=10.5),
        "p2": ParagraphStyle("p2", parent=base, leftIndent=31.5),
        "p3": ParagraphStyle("p3", parent=base, leftIndent=31.5, firstLineIndent=10.5),
        "li": ParagraphStyle("li", parent=base, leftIndent=10.5),
        "figure": ParagraphStyle("figure", parent=base, fontName=GOTHIC, alignment=TA_CENTER),
    }


def _flowables(blocks: list[tuple[str, str]], styles) -> list:
    from reportlab.platypus import Paragraph

    return [Paragraph(escape(text), styles[kind]) for kind, text in blocks]


def _figure(styles):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    rows = [[Paragraph(escape(line), styles["figure"])] for line in FIGURE]
    table = Table(rows, colWidths=[260], hAlign="CENTER")
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


def _add_custom_info(path: Path) -> None:
    """Add /DocType, /Published, ... to the info dict (reportlab only writes the standard keys)."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(str(path))
    writer = PdfWriter(clone_from=reader)
    info = {key: str(value) for key, value in (reader.metadata or {}).items()}
    info.update({
        "/DocType": DOC_TYPE,
        "/Published": PUBLISHED,
        "/Issuer": ISSUER,
        "/City": CITY,
        "/Source": SOURCE,
    })
    writer.add_metadata(info)
    with path.open("wb") as fh:
        writer.write(fh)


def build(out_path: Path | str = DEFAULT_OUT) -> Path:
    """Write the overview PDF to ``out_path`` and return the path."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    for font in (GOTHIC, MINCHO):
        pdfmetrics.registerFont(UnicodeCIDFont(font))

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    styles = _styles()

    story: list = [Paragraph(escape(line), styles["header"]) for line in HEADER]
    story.append(Paragraph(escape(TITLE), styles["title"]))
    story += _flowables(PAGE_1, styles)
    story.append(PageBreak())
    story += _flowables(PAGE_2, styles)
    story += [Spacer(1, 18), _figure(styles)]

    doc = SimpleDocTemplate(
        str(out),
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=TITLE,
        author=ISSUER,
        subject=SUBJECT,
        keywords=KEYWORDS,
        creator="ppp-desk ingest.build_pdf",
        invariant=1,
    )
    doc.build(story)
    _add_custom_info(out)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = build(Path(args[0]) if args else DEFAULT_OUT)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
