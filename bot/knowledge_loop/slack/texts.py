"""Everything the knowledge loop's Slack surface says, in one place.

Staff-facing text is Japanese (the desk works in Japanese); what a business reads follows the
language of its own question (polite Japanese by default, English when it wrote English).
"""

from __future__ import annotations

STAFF: dict[str, str] = {
    "publish_title": "回答として公開",
    "publish_button": "回答として公開",
    "handoff_missing": "この相談依頼の記録が見つかりません。",
    "publish_submit": "公開する",
    "cancel": "キャンセル",
    "close": "閉じる",
    "publish_intro": ("事業者の質問を一般的な形にし、職員の回答とあわせて公開ナレッジに追加します。"
                      "公開後は「公民連携デスク回答（日付 承認）」として出典表示され、App Home から取り下げられます。"),
    "question_label": "質問（一般化・編集できます）",
    "question_hint": "個人名・会社名・連絡先は含めないでください。",
    "answer_label": "回答（編集できます）",
    "answer_hint": "事業者に公開される文面です。社内メモや審査中の情報は書かないでください。",
    "not_handoff_thread": ("「回答として公開」は、デスクチャンネルの担当者相談スレッド内の返信に対して使ってください。"),
    "empty": "入力してください。",
    "too_long": "{limit}文字以内で入力してください。",
    "working_title": "処理しています",
    "publishing": "公開しています…",
    "published": "*{answer_id}* を公開しました（{title}）。\n\n*質問*\n{question}",
    "published_told": "ご相談いただいた事業者にもスレッドでお知らせしました。",
    "published_told_others": "同じ質問をしていた事業者 {count} 件にも、それぞれのスレッドでお知らせしました。",
    "gaps_closed": "この回答で答えられる質問 {count} 件を「未回答・要改善」から外しました（取り下げると元に戻ります）。",
    "publish_failed": "公開できませんでした（{reason}）。時間をおいて再度お試しください。",
    "withdrawn": "{answer_id} を取り下げました。",
    "withdraw_failed": "取り下げできませんでした: {reason}",
    "gap_missing": "この質問は保存期間を過ぎたため、記録が見つかりませんでした。",
    # App Home
    "home_gaps": "未回答・要改善",
    "home_gaps_note": "資料に記載がなかった質問・👎・担当者への相談（個人情報は伏せています）。意味の近い質問をまとめ、件数の多い順です。デスク回答を公開すると、その回答で答えられる質問はここから外れます。",
    "home_gaps_none": "現在、未回答・要改善の質問はありません。",
    "home_gap_line": "*{count}件*｜最新 {newest}\n{question}",
    "answer_gap": "回答する",
    "home_answers": "公開中のデスク回答",
    "home_answers_none": "公開中のデスク回答はありません。",
    "home_answer_line": "*{answer_id}*（{date} 承認・<@{approver}>）\n{question}",
    "withdraw": "取り下げ",
    "withdraw_confirm_title": "回答を取り下げますか？",
    "withdraw_confirm": "{answer_id} を公開ナレッジから取り除きます。事業者への回答には使われなくなります。",
    "home_files": "Slackから追加した資料",
    "home_files_none": "Slackから追加した資料はありません。",
    "home_file_line": "*{title}*（{chunks}チャンク・{date} 追加）",
    "remove": "削除",
    "remove_confirm_title": "資料を削除しますか？",
    "remove_confirm": "「{title}」を公開ナレッジから削除します。",
    "yes": "はい",
    # files
    "file_title": "ナレッジに追加",
    "file_add": "追加する",
    "file_loading": "ファイルを確認しています…",
    "file_none": "このメッセージには追加できるファイル（PDF・DOCX・Markdown・HTML）がありません。",
    "file_desk_only": "「ナレッジに追加」はデスクチャンネルで共有されたファイルに対して使ってください。",
    "file_preview": "*{title}*\n種類: {fmt}｜ページ: {pages}｜チャンク: {chunks}",
    "file_intro": "追加すると、事業者への回答に出典（資料名・ページ）つきで使われます。App Home から削除できます。",
    "file_problems": ":warning: このファイルは追加できません。",
    "file_download_failed": "ファイルをダウンロードできませんでした（{reason}）。",
    "file_duplicate": "同じ内容の資料がすでにあります（{title}）",
    "file_adding": "追加しています…",
    "file_added": "「{title}」をナレッジに追加しました（{chunks}チャンク）。",
    "file_add_failed": "追加できませんでした（{reason}）。",
    "file_removed": "「{title}」を削除しました。",
    # digest
    "digest_title": "公民連携デスク 週次ダイジェスト",
    "digest_note": "質問文は個人情報を伏せて集計しています。",
}

BUSINESS: dict[str, dict[str, str]] = {
    "ja": {
        "answer_published": ("ご相談いただいた件について、公民連携デスクからの回答を公開しました。\n\n{answer}\n\n"
                             "出典: {title}\nこの回答は今後、同じご質問へのアシスタントの回答にも使われます。"),
        "question_answered": ("先日いただいたご質問について、資料に記載がなかったため公民連携デスクが回答を公開しました。"
                              "\n\n{answer}\n\n出典: {title}"),
    },
    "en": {
        "answer_published": ("The public-private partnership desk has published an answer to your question.\n\n"
                             "{answer}\n\nSource: {title}\nThe assistant will use this answer for the same question "
                             "from now on."),
        "question_answered": ("The documents did not cover the question you asked earlier; the public-private "
                              "partnership desk has now published an answer.\n\n{answer}\n\nSource: {title}"),
    },
}


def s(key: str, **fmt: object) -> str:
    """Staff-facing text ``key``."""
    text = STAFF[key]
    return text.format(**fmt) if fmt else text


def b(lang: str, key: str, **fmt: object) -> str:
    """Business-facing text ``key`` in ``lang`` (English for "en", polite Japanese otherwise)."""
    text = BUSINESS["en" if lang == "en" else "ja"][key]
    return text.format(**fmt) if fmt else text
