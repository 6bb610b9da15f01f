"""Everything the Slack surface says to people, in polite Japanese and in English.

Japanese (です・ます) is the default; English is used when the business writes in English.
Keeping the strings here keeps listeners and block rendering free of wording.
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "ja": {
        "status_working": "資料を確認しています…",
        "sources": "出典",
        "show_quote": "引用を表示",
        "quote_title": "引用",
        "close": "閉じる",
        "full_answer_title": "回答の全文",
        "show_full": "全文を表示",
        "trimmed": "回答が長いため一部のみ表示しています。「全文を表示」から続きをご覧いただけます。",
        "feedback_up": "👍 役に立った",
        "feedback_down": "👎 役に立たなかった",
        "handoff": "担当者に相談する",
        "draft": "提案の下書きを作成",
        "notice_default": "この回答は市の公開資料をもとに自動で作成した参考情報です。正式なご判断は公民連携デスクにご確認ください。",
        "contact": "お問い合わせ先: {contact}",
        "fallback_text": "回答: {lead}",
        "help": ("青森市公民連携デスクのアシスタントです。民間提案制度について、市の公開資料をもとにお答えします。"
                 "ご質問をそのままお書きください。例:"),
        "greeting": ("こんにちは。公民連携デスクのアシスタントです。民間提案制度について、市の公開資料をもとに"
                     "出典つきでお答えします。下の質問例から選ぶか、ご質問をお書きください。"),
        "prompts_title": "よくあるご質問",
        "engine_error": ("申し訳ありません。回答の作成中に問題が発生しました。少し時間をおいて再度お試しいただくか、"
                         "公民連携デスクへ直接お問い合わせください。{contact}"),
        "thanks_feedback_up": "ご評価ありがとうございます。今後の改善に役立てます。",
        "thanks_feedback_down": "ご意見ありがとうございます。回答の改善に役立てます。担当者へのご相談もご利用ください。",
        "handoff_sent": "担当者にご相談内容をお送りしました。公民連携デスクの担当者からご連絡いたします。",
        "handoff_already": "このご相談はすでに担当者にお送りしています。担当者からのご連絡をお待ちください。",
        "handoff_unavailable": "申し訳ありません。現在、担当者への自動送信ができません。お手数ですが直接お問い合わせください。{contact}",
        "handoff_failed": "申し訳ありません。担当者への送信に失敗しました。お手数ですが直接お問い合わせください。{contact}",
        "draft_soon": "提案の下書き作成機能は準備中です。もうしばらくお待ちください。",
        "draft_failed": "申し訳ありません。下書き作成を開始できませんでした。時間をおいて再度お試しください。",
        "not_found": "申し訳ありません。この回答の記録が見つかりませんでした。もう一度ご質問ください。",
        "storage_error": ("申し訳ありません。一時的な障害のため、ご質問を受け付けられませんでした。少し時間をおいて"
                          "再度お試しいただくか、公民連携デスクへ直接お問い合わせください。{contact}"),
        "feature_soon": "この機能は準備中です。",
    },
    "en": {
        "status_working": "Checking the documents…",
        "sources": "Sources",
        "show_quote": "View quote",
        "quote_title": "Quoted passage",
        "close": "Close",
        "full_answer_title": "Full answer",
        "show_full": "Show full answer",
        "trimmed": "The answer is long, so only part of it is shown. Use “Show full answer” to read the rest.",
        "feedback_up": "👍 Helpful",
        "feedback_down": "👎 Not helpful",
        "handoff": "Talk to the desk",
        "draft": "Draft a proposal",
        "notice_default": ("This answer is reference information generated from the city's published documents. "
                           "Please confirm any formal decision with the public-private partnership desk."),
        "contact": "Contact: {contact}",
        "fallback_text": "Answer: {lead}",
        "help": ("I am the assistant of the public-private partnership desk. I answer questions about the "
                 "private proposal program from the city's published documents. Just write your question, e.g.:"),
        "greeting": ("Hello. I am the assistant of the public-private partnership desk. I answer questions about "
                     "the private proposal program with citations. Pick a suggestion below or write your question."),
        "prompts_title": "Frequently asked",
        "engine_error": ("Sorry, something went wrong while preparing the answer. Please try again in a moment or "
                         "contact the desk directly. {contact}"),
        "thanks_feedback_up": "Thank you for the feedback. It helps us improve.",
        "thanks_feedback_down": "Thank you for the feedback. We will use it to improve; you can also talk to the desk.",
        "handoff_sent": "Your question has been sent to the desk staff. They will contact you.",
        "handoff_already": "This conversation has already been sent to the desk staff. They will contact you.",
        "handoff_unavailable": "Sorry, the hand-over to the desk is not available right now. Please contact the desk directly. {contact}",
        "handoff_failed": "Sorry, sending to the desk failed. Please contact the desk directly. {contact}",
        "draft_soon": "Drafting a proposal is coming soon.",
        "draft_failed": "Sorry, the proposal draft could not be started. Please try again later.",
        "not_found": "Sorry, this answer could not be found any more. Please ask again.",
        "storage_error": ("Sorry, your question could not be taken because of a temporary problem. Please try "
                          "again in a moment or contact the desk directly. {contact}"),
        "feature_soon": "This feature is coming soon.",
    },
}


def t(lang: str, key: str, **fmt: str) -> str:
    """The text ``key`` in ``lang`` (``"en"`` or Japanese for anything else)."""
    table = TEXTS["en"] if lang == "en" else TEXTS["ja"]
    text = table[key]
    return text.format(**fmt) if fmt else text

