"""The rewriting rules: our wording of Qwen's prompt rules in English and Chinese, which one a
prompt gets (by its script), quoted text that must survive a rewrite, and cleaning a reply."""

import re
from typing import Literal

Language = Literal["en", "zh"]

# Our own wording of the rules Qwen-Image's authors rewrite prompts by (expand without changing
# the meaning, keep text to be drawn verbatim and quoted, pick a fitting style, stay short; the
# 2512 prompts first decide whether a picture is mainly a person, mainly text or anything else).
SYSTEM_PROMPT_EN = """\
You improve prompts for an image generation model. Reply with the improved prompt only: no \
title, no explanation, no quotation marks around the whole answer.

1. Keep the meaning. Add what the picture needs to be drawn well (the subject's look, the \
setting, composition, lighting, colours, mood) but never change what was asked for, who or \
what is in it, or how many there are.
2. First decide what kind of picture it is. A picture of a person: describe the face, hair, \
clothes, pose and expression. A picture that is mainly text (poster, sign, cover, slide, \
menu): describe the layout and where each piece of text goes. Anything else: the scene.
3. Text that should appear in the image is written in quotation marks. Copy every quoted \
text exactly, character for character, inside quotation marks. Never translate, correct, \
shorten or add to it. Say where it appears and how it looks (font, size, colour, material). \
Add no other text to the image.
4. If no style is given, choose one that fits (photograph, illustration, watercolour, oil \
painting, 3D render, anime, flat design) and name it.
5. Write one paragraph of plain description, under 200 words, in the language of the prompt.
6. Add nothing sexual, violent or hateful that was not asked for.
"""

SYSTEM_PROMPT_ZH = """\
你负责改写图像生成模型的提示词。只回复改写后的提示词：不要标题，不要解释，不要给整段回复加引号。

1. 保持原意。补充画面需要的细节（主体外观、场景、构图、光线、色彩、氛围），但不要改变要求的内容、\
画面中的人或物，以及它们的数量。
2. 先判断画面类型。人像：描述面部、发型、服装、姿势和表情。以文字为主的画面（海报、招牌、封面、\
幻灯片、菜单）：描述版式以及每段文字的位置。其他画面：描述场景。
3. 需要出现在画面中的文字写在引号里。每段引号中的文字都要逐字照抄，并保留在引号中；不得翻译、\
修改、删减或增补。说明它出现的位置和样式（字体、大小、颜色、材质）。不要在画面中添加其他文字。
4. 如果没有指定风格，选择一种合适的风格（摄影、插画、水彩、油画、3D 渲染、动漫、扁平设计）并写明。
5. 写成一段平实的描述，不超过 200 字，使用与原提示词相同的语言。
6. 不要添加原提示词没有要求的色情、暴力或仇恨内容。
"""

DEFAULT_SYSTEM_PROMPTS: dict[str, str] = {"en": SYSTEM_PROMPT_EN, "zh": SYSTEM_PROMPT_ZH}

# Text to be drawn is quoted: straight or curly double quotes, curly single quotes, and the
# CJK corner brackets. Plain single quotes are left out: they are mostly apostrophes.
_QUOTED = re.compile(r'"([^"\n]+)"|“([^”\n]+)”|‘([^’\n]+)’|「([^」\n]+)」|『([^』\n]+)』')
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:rewritten|improved|enhanced|revised)?\s*prompt\s*(?:\*\*)?\s*[:：]\s*",
    re.IGNORECASE,
)
_ZH_LABEL = re.compile(r"^\s*(?:改写后的)?提示词\s*[:：]\s*")
_WRAPPING_QUOTES = [('"', '"'), ("“", "”"), ("'", "'"), ("「", "」")]


def quoted_texts(prompt: str) -> list[str]:
    """The texts in quotation marks: what the image must show verbatim."""
    return [next(group for group in match.groups() if group) for match in _QUOTED.finditer(prompt)]


def language_of(prompt: str) -> Language:
    """Chinese when the prompt's own words (quoted text aside) contain Chinese characters."""
    unquoted = _QUOTED.sub(" ", prompt)
    return "zh" if _CJK.search(unquoted) else "en"


def system_prompt_for(prompt: str, custom: dict[str, str] | None = None) -> tuple[str, Language]:
    """(system prompt, language) for a prompt: a team's own wording when it has one for that
    language, else ours."""
    language = language_of(prompt)
    text = (custom or {}).get(language) or DEFAULT_SYSTEM_PROMPTS[language]
    return text, language


def missing_quotes(original: str, revised: str) -> list[str]:
    """Quoted texts of the original that the revision does not carry verbatim inside quotes."""
    kept = set(quoted_texts(revised))
    return [text for text in quoted_texts(original) if text not in kept]


def clean_reply(reply: str) -> str:
    """The prompt out of a model's reply: no reasoning block, no "Prompt:" label, no quotes
    around the whole answer, whitespace collapsed."""
    text = _THINK.sub("", reply or "")
    text = text.split("</think>")[-1]  # a reply cut inside its reasoning block
    text = _ZH_LABEL.sub("", _LABEL.sub("", text.strip()))
    text = " ".join(text.split())
    for opening, closing in _WRAPPING_QUOTES:
        inner = text[len(opening) : -len(closing)]
        if (
            len(text) > 2
            and text.startswith(opening)
            and text.endswith(closing)
            and opening not in inner
            and closing not in inner
        ):
            text = inner.strip()
    return text
