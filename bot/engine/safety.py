"""Safety refusals: requests the desk declines whatever the documents say.

These are patterns on purpose — a request for another business's proposal, for staff notes, for
the bot's instructions, or for a promise of adoption is refused before any retrieval, so no
passage and no model can talk the bot into it.  Everything else is decided from evidence
(``bot.engine.decide``); this module holds no topic vocabulary.
"""

from __future__ import annotations

import re

from ingest.normalize import normalize_chars

# Requests the desk must refuse whatever the documents say: other businesses' proposals, internal
# records or instructions, and promises the city never made.
_REFUSAL = [
    r"(他社|他の(事業者|会社|企業)|ほかの(事業者|会社|企業)|競合)(の|が).{0,20}(提案|内容|情報|資料|記録|申請)"
    r".{0,15}(見せ|教え|表示|知りたい|開示|共有|出して|ください|下さい)",
    r"(他|ほか|別|その)の?(会社|事業者|企業|団体|社)(名|の名前)?.{0,30}(提案書?の?(中身|内容)|見積)",
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



def is_refusal(question: str) -> bool:
    """True for requests the bot must decline (other businesses' data, instructions, promises)."""
    return bool(_REFUSAL_RE.search(normalize_chars(question)))
