"""Question understanding by rules: language, category, refusals, follow-ups, English → Japanese terms.

Deterministic on purpose: the product must be fully useful without an LLM, and a rule that
misfires can be read and fixed.  Cue lists are domain vocabulary of partnership desks in general
(not one city's documents); city-specific facts stay in ``knowledge/``.
"""

from __future__ import annotations

import re

from ingest.normalize import compact, normalize_chars

# Category cues, matched case-insensitively on the normalized question.  Order breaks ties.
CATEGORY_CUES: dict[str, tuple[str, ...]] = {
    "required_info": ("必要な情報", "必要事項", "入力", "項目", "書類", "提出物", "何が必要", "必要なもの",
                      "準備するもの", "記載事項", "need from us", "required information", "what information",
                      "what do you need", "documents do", "details do you need"),
    "contact": ("連絡先", "問い合わせ先", "問合せ先", "お問合せ", "お問い合わせ", "電話番号", "住所", "窓口の場所",
                "どこに相談", "contact", "phone", "address", "email", "reach the desk"),
    "eligibility": ("個人(?!情報)", "個人事業主", "対象", "応募資格", "資格", "大学", "研究室", "npo", "団体", "法人",
                    "外国", "市外", "誰でも", "提案できます", "提案できる", "応募でき", "eligible", "individual",
                    "sole proprietor", "who can", "university", "foreign", "can a company", "can we propose"),
    "cost": ("費用", "負担", "予算", "お金", "補償", "賠償", "請求", "無料", "有料", "経費", "報酬", "支払",
             "cost", "pay", "budget", "fee", "expense", "compensat", "fund"),
    "confidentiality": ("公開", "開示", "情報公開", "秘密", "機密", "第三者", "共有", "ノウハウ", "知的財産",
                        "個人情報", "守秘", "仕様書", "disclos", "confidential", "public", "secret", "share",
                        "personal information", "privacy", "know-how", "intellectual property"),
    "process": ("流れ", "手順", "手続", "事前相談", "いつ", "期間", "締め切り", "締切", "受付", "受け付け",
                "何時", "回答", "判断", "フロー", "審査", "進め方", "どのように", "必須", "注意", "留意", "気をつけ",
                "採否", "決ま", "どのくらい", "提出", "どこに出", "出せば", "送付", "process", "step",
                "what happens", "after",
                "how long", "when", "deadline", "pre-consultation", "apply", "submit", "timeline"),
    "scheme": ("自由提案", "課題提案", "パートナーシップ", "実証実験サポート", "連携協定", "包括連携", "事業連携",
               "制度", "違い", "支援", "サポート", "pfi", "ネーミングライツ", "指定管理", "ふるさと納税",
               "広告事業", "pfs", "sib", "scheme", "program", "support", "difference", "partnership"),
    "precedent": ("事例", "実績", "取り組み", "取組", "前例", "ケース", "これまで", "過去", "例はあり",
                  "case", "example", "precedent", "past project"),
    "agreement": ("協定", "ラボ", "締結", "未来共創", "agreement", "lab", "mou"),
}

# Requests the desk must refuse whatever the documents say: other businesses' proposals, internal
# records or instructions, and promises the city never made.
_REFUSAL = [
    r"(他社|他の(事業者|会社|企業)|ほかの(事業者|会社|企業)|競合).{0,20}(提案|内容|情報|資料|記録|申請)",
    r"(指示|命令|ルール|設定|プロンプト).{0,12}(無視|忘れ|破棄|教え|表示|見せ)",
    r"(システム|内部|非公開).{0,10}(プロンプト|指示|メモ|記録|情報|データ)",
    r"(職員|スタッフ|担当者|デスク)の?(メモ|ノート|内部メモ|備考)",
    r"(データベース|db).{0,15}(すべて|全て|全部|一覧|中身|表示)",
    r"(全て|すべて|全部)の(提案|記録|申請|案件)",
    r"(必ず|絶対|確実に).{0,15}(採用|採択|実施|契約|通[るし]).{0,15}(約束|保証|して(ください|下さい)|ですよね|と言って)",
    r"(採用|採択).{0,10}(約束|保証)",
    r"ignore (all |the )?(previous|prior|above) (instructions|prompts?)",
    r"(system|hidden) prompt",
    r"(other|another) (companies|company's|businesses|business's|firms?)('s)? (proposals?|submissions?|records?)",
    r"(all|every) (proposals?|records?|submissions?)( in the database)?",
    r"(staff|internal|desk) notes?",
    r"(guarantee|promise).{0,30}(adopt|accept|approv|select)",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in _REFUSAL), re.I)

_FOLLOW_UP = re.compile(
    r"^(それ|その|これ|この|あれ|そちら|こちら|では|じゃあ|なら|だったら|また|あと|さらに|ちなみに|"
    r"what about|and |how about|also|then )", re.I)

# English → Japanese search terms (glossary of DESIGN.md plus everyday synonyms), so that an English
# question finds Japanese passages through BM25 as well as through the multilingual vectors.
EN_JA_TERMS: dict[str, str] = {
    "public-private partnership desk": "公民連携デスク", "partnership desk": "公民連携デスク",
    "desk": "公民連携デスク", "proposal": "提案", "propose": "提案", "submit": "提案 受付",
    "open proposal": "自由提案", "themed proposal": "課題提案", "partnership": "パートナーシップ 連携",
    "trial": "実証実験", "demonstration": "実証実験", "experiment": "実証実験",
    "agreement": "連携協定", "comprehensive": "包括連携協定", "pre-consultation": "事前相談",
    "consult": "相談", "department": "担当課", "disclos": "情報公開 開示請求", "public": "公開",
    "individual": "個人", "sole proprietor": "個人事業主", "company": "民間企業 事業者",
    "companies": "民間企業 事業者", "business": "事業者", "university": "大学", "npo": "団体",
    "cost": "費用 負担", "pay": "費用 負担", "budget": "予算", "fee": "費用", "expense": "費用",
    "compensat": "補償 賠償", "confidential": "秘密 第三者", "secret": "秘密", "share": "第三者 提供",
    "personal information": "個人情報", "privacy": "個人情報", "intellectual property": "知的財産権",
    "know-how": "ノウハウ", "contact": "連絡先 所属 氏名", "phone": "電話番号", "address": "住所",
    "affiliation": "所属", "name": "氏名", "required": "必要事項", "need": "必要事項",
    "information": "情報", "details": "必要事項", "foreign": "民間企業 団体", "case": "事例",
    "example": "事例", "precedent": "事例", "lab": "ラボ", "when": "いつ", "deadline": "受付",
    "process": "フロー 流れ", "step": "フロー", "decision": "実施可否判断", "reject": "実施困難 回答",
    "happen": "フロー 受付 内容確認 対話 調整 実施可否判断", "after": "フロー", "how long": "時間 回答",
    "caution": "留意事項", "note": "留意事項",
    "support": "支援 役割", "data": "行政データ", "field": "実証実験フィールド", "portal": "ポータルサイト",
}


def detect_language(text: str) -> str:
    """'en' when the question is written in English (mostly Latin letters), else 'ja'."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "ja"
    latin = sum(1 for ch in letters if ch.isascii())
    return "en" if latin / len(letters) > 0.6 else "ja"


def is_refusal(question: str) -> bool:
    """True for requests the bot must decline (other businesses' data, instructions, promises)."""
    return bool(_REFUSAL_RE.search(normalize_chars(question)))


def category_scores(question: str) -> dict[str, int]:
    q = compact(question)
    spaced = " " + normalize_chars(question).casefold() + " "
    scores = {}
    for cat, cues in CATEGORY_CUES.items():
        hits = sum(1 for cue in cues if (cue in spaced if cue.isascii() else re.search(cue, q)))
        if hits:
            scores[cat] = hits
    return scores


def classify(question: str) -> str:
    """The question's category, or 'out_of_scope' when no desk topic is recognised."""
    if is_refusal(question):
        return "out_of_scope"
    scores = category_scores(question)
    if not scores:
        return "out_of_scope"
    order = list(CATEGORY_CUES)
    return max(scores, key=lambda c: (scores[c], -order.index(c)))


def expand_english(question: str) -> str:
    """Japanese search terms for an English question (empty for Japanese questions)."""
    q = question.casefold()
    terms = [ja for en, ja in EN_JA_TERMS.items() if re.search(r"\b" + re.escape(en), q)]
    return " ".join(dict.fromkeys(" ".join(terms).split()))


def is_follow_up(question: str) -> bool:
    """A short question that leans on the previous turn ("それは個人事業主でも？")."""
    q = question.strip()
    return bool(_FOLLOW_UP.match(q)) or (len(q) <= 14 and detect_language(q) == "ja"
                                         and not q.endswith(("ですか？", "ですか?", "ますか？", "ますか?")))


# Everyday words of business users → the terms the documents use.  General domain vocabulary, so
# BM25 and sentence selection meet the documents' wording ("共有" → "第三者へ提供").
JA_SYNONYMS: dict[str, str] = {
    "共有": "第三者 提供", "渡す": "第三者 提供", "見せる": "第三者 提供", "転送": "第三者 提供",
    "協力会社": "第三者", "委託先": "第三者", "下請": "第三者", "外部": "第三者",
    "お金": "費用", "コスト": "費用", "経費": "費用", "支払": "費用 負担", "払う": "費用 負担",
    "公表": "公開 開示", "公開": "開示 情報公開", "漏れる": "秘密", "守秘": "秘密",
    "応募": "提案", "申し込み": "提案", "申込": "提案", "申請": "提案",
    "会社": "民間企業 事業者", "企業": "民間企業 事業者", "法人": "民間企業 団体", "研究室": "大学 団体",
    "個人事業": "個人事業主", "フリーランス": "個人事業主", "自営業": "個人事業主",
    "支援": "役割 提供", "手伝う": "役割 支援", "締め切り": "受付", "締切": "受付", "期限": "受付",
    "いつでも": "受付", "何時でも": "受付", "土日": "受付",
    "断る": "実施困難 回答", "不採用": "実施困難 回答", "ダメ": "実施困難", "却下": "実施困難 回答",
    "問い合わせ": "問合せ 連絡先", "電話": "電話番号 連絡先", "窓口": "公民連携デスク",
    "アイデア": "提案 ノウハウ", "特許": "知的財産権", "著作権": "知的財産権",
    "必要な情報": "必要事項", "何が必要": "必要事項", "必要なもの": "必要事項", "必要書類": "必要事項",
    "提出": "受付 ポータルサイト", "出す": "受付", "送る": "受付",
    "採否": "実施 可否 判断 庁内調整", "決まる": "判断 検討", "審査": "判断 検討 庁内調整",
    "どのくらい": "時間", "期間": "時間", "かかる": "時間", "注意": "留意事項", "気をつけ": "留意事項",
}


def expand_synonyms(question: str) -> str:
    """Document-side terms for everyday words in a Japanese question (empty when none apply)."""
    q = compact(question)
    terms = [terms for word, terms in JA_SYNONYMS.items() if word in q]
    return " ".join(dict.fromkeys(" ".join(terms).split()))
