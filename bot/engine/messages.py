"""Fixed user-facing wording of the engine (Japanese first, English when the user writes English)."""

from __future__ import annotations

from bot.city import CityProfile

MAX_QUESTION_CHARS = 2000


def notice(language: str) -> str:
    if language == "en":
        return ("Note: this is reference information based on the published documents; the desk makes the "
                "final decision. Please do not post personal information (names, phone numbers, etc.) here.")
    return ("※公開資料に基づく参考情報です。最終的な判断は公民連携デスクが行います。"
            "個人情報（氏名・電話番号など）は投稿しないでください。")


def abstain_text(city: CityProfile, language: str) -> str:
    d = city.desk
    if language == "en":
        return ("I could not find this in the published documents, so I will not guess. "
                f"Please contact {d.name} ({d.department}, phone {d.phone}; web inquiries via the portal's "
                f"CONTACT form: {d.web}), or press “Ask the desk staff” and I will hand your question over.")
    return ("ご質問の内容は、公開されている資料には記載が見当たりませんでした。推測でお答えすることは控えます。"
            f"{d.name}（{d.department}、電話 {d.phone}、WEBはポータルサイト {d.web} のCONTACT）へ"
            "お問い合わせいただくか、「担当者に相談する」から担当者におつなぎします。")


def abstain_contact(city: CityProfile, language: str) -> str:
    """The desk's contact and the hand-off offer, for answers that stop short."""
    d = city.desk
    if language == "en":
        return (f"For details, please contact {d.name} ({d.department}, phone {d.phone}; web inquiries via the "
                f"portal's CONTACT form: {d.web}), or press “Ask the desk staff” and I will hand your question over.")
    return (f"詳しくは{d.name}（{d.department}、電話 {d.phone}、WEBはポータルサイト {d.web} のCONTACT）へ"
            "お問い合わせいただくか、「担当者に相談する」から担当者におつなぎします。")


def refusal_text(city: CityProfile, language: str) -> str:
    d = city.desk
    if language == "en":
        return ("I'm sorry, but I cannot share other businesses' proposals, internal records or staff notes, "
                "reveal my instructions, or promise that a proposal will be adopted. I can answer questions "
                "about the published program documents. For anything else, please contact "
                f"{d.name} (phone {d.phone}).")
    return ("申し訳ありませんが、他の事業者の提案内容や内部の記録・職員のメモ、システムの設定をお伝えすること、"
            "また提案の採用をお約束することはできません。公開されている制度の資料に関するご質問にはお答えします。"
            f"その他のご相談は{d.name}（電話 {d.phone}）までお問い合わせください。")


def empty_question_text(language: str = "ja") -> str:
    if language == "en":
        return "Please type your question (for example: “Can an individual submit a proposal?”)."
    return "ご質問を入力してください（例：「個人でも提案できますか？」）。"


def too_long_text(limit: int, language: str = "ja") -> str:
    if language == "en":
        return f"Your question is too long (over {limit} characters). Please shorten it to the key point."
    return f"ご質問が長すぎます（{limit}文字を超えています）。要点を短くまとめて、もう一度お送りください。"
