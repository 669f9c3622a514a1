"""The bot's own sentences, in English and Spanish, picked by Telegram's ``language_code``.

Only what the bot itself says lives here; model replies are the persona's business.
Every text is plain (the sender escapes it), and none carries an error's internals: the
user reads what happened and what to do, never a stack trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Texts:
    lang: str
    help: str
    welcome: str
    refused: str
    new: str
    persona_set: str
    persona_unknown: str
    persona_list: str
    model_set: str
    model_unknown: str
    linked: str
    link_failed: str
    link_usage: str
    link_throttled: str
    limited: str
    busy: str
    too_long: str
    no_images: str
    photo_failed: str
    blocked_by_guard: str
    failed: str
    empty: str
    cut_short: str
    unsupported: str
    usage_title: str
    usage_line: str
    unlimited: str
    usage_labels: tuple[str, str, str, str, str]

    def wait(self, seconds: float | None) -> str:
        """``retry_after`` as words: "in 42 seconds", "en 3 minutos", ..."""
        if seconds is None:
            return "soon" if self.lang == "en" else "pronto"
        total = max(1, math.ceil(seconds))
        for size, en, es in (
            (86400, "day", "día"),
            (3600, "hour", "hora"),
            (60, "minute", "minuto"),
        ):
            if total >= size:
                count = math.ceil(total / size)
                return self._count(count, en, es)
        return self._count(total, "second", "segundo")

    def _count(self, count: int, en: str, es: str) -> str:
        if self.lang == "en":
            return f"in {count} {en}{'' if count == 1 else 's'}"
        return f"en {count} {es}{'' if count == 1 else 's'}"


ENGLISH = Texts(
    lang="en",
    help=(
        "Just write to me and I will answer.\n"
        "/new — start a new conversation\n"
        "/persona NAME — switch persona ({personas})\n"
        "/model ID — switch model ({models})\n"
        "/usage — what is left of your limits\n"
        "/link CODE — link this account to your habla account\n"
        "/help — this help"
    ),
    welcome="Hello! I am your assistant.",
    refused=(
        "Sorry, this assistant is private. If you have an account, ask an administrator for "
        "a link code and send /link CODE."
    ),
    new="Started a new conversation.",
    persona_set="Persona: {name}.",
    persona_unknown="There is no persona called {name!r}. Available: {names}.",
    persona_list="Current persona: {name}. Available: {names}.",
    model_set="Model: {name}.",
    model_unknown="There is no model called {name!r}. Available: {names}.",
    linked="Linked to the habla account {name}. Welcome!",
    link_failed="That code is wrong, used or expired. Ask for a new one.",
    link_usage="Send /link followed by the code you were given, e.g. /link ABCD-EFGH-JKLM.",
    link_throttled="Too many wrong codes. Try again {when}.",
    limited="You have reached your limit. It resets {when}.",
    busy="The service is busy, try again in a minute.",
    too_long="Your message is too long for me. Please send a shorter one.",
    no_images="The model {model} cannot read images. Describe it in words, or pick another "
    "model with /model.",
    photo_failed="I could not fetch that photo. Please send it again.",
    blocked_by_guard="Sorry, I cannot help with that.",
    failed="Something went wrong on my side. Please try again.",
    empty="(no answer)",
    cut_short="(the answer was cut short)",
    unsupported="I can read text and photos only.",
    usage_title="Your limits:",
    usage_line="{label}: {used} used of {limit}, {remaining} left, resets {when}",
    unlimited="unlimited",
    usage_labels=(
        "requests this minute",
        "tokens today",
        "tokens this month",
        "cost today",
        "cost this month",
    ),
)

SPANISH = Texts(
    lang="es",
    help=(
        "Escríbeme y te respondo.\n"
        "/new — empezar una conversación nueva\n"
        "/persona NOMBRE — cambiar de personaje ({personas})\n"
        "/model ID — cambiar de modelo ({models})\n"
        "/usage — lo que te queda de tus límites\n"
        "/link CÓDIGO — vincular esta cuenta con tu cuenta de habla\n"
        "/help — esta ayuda"
    ),
    welcome="¡Hola! Soy tu asistente.",
    refused=(
        "Lo siento, este asistente es privado. Si tienes una cuenta, pide a un administrador "
        "un código de vinculación y envía /link CÓDIGO."
    ),
    new="He empezado una conversación nueva.",
    persona_set="Personaje: {name}.",
    persona_unknown="No hay ningún personaje llamado {name!r}. Disponibles: {names}.",
    persona_list="Personaje actual: {name}. Disponibles: {names}.",
    model_set="Modelo: {name}.",
    model_unknown="No hay ningún modelo llamado {name!r}. Disponibles: {names}.",
    linked="Vinculado a la cuenta de habla {name}. ¡Bienvenido!",
    link_failed="Ese código es incorrecto, ya se usó o ha caducado. Pide uno nuevo.",
    link_usage="Envía /link seguido del código que te dieron, p. ej. /link ABCD-EFGH-JKLM.",
    link_throttled="Demasiados códigos incorrectos. Vuelve a intentarlo {when}.",
    limited="Has alcanzado tu límite. Se restablece {when}.",
    busy="El servicio está ocupado, inténtalo de nuevo en un minuto.",
    too_long="Tu mensaje es demasiado largo para mí. Envía uno más corto.",
    no_images="El modelo {model} no puede leer imágenes. Descríbela con palabras o elige otro "
    "modelo con /model.",
    photo_failed="No he podido descargar esa foto. Envíala de nuevo.",
    blocked_by_guard="Lo siento, no puedo ayudar con eso.",
    failed="Algo ha fallado por mi parte. Inténtalo de nuevo.",
    empty="(sin respuesta)",
    cut_short="(la respuesta quedó incompleta)",
    unsupported="Solo puedo leer texto y fotos.",
    usage_title="Tus límites:",
    usage_line="{label}: {used} usados de {limit}, quedan {remaining}, se restablece {when}",
    unlimited="sin límite",
    usage_labels=(
        "peticiones este minuto",
        "tokens hoy",
        "tokens este mes",
        "coste hoy",
        "coste este mes",
    ),
)


def texts_for(language_code: str | None) -> Texts:
    """Spanish for any ``es`` variant, English otherwise."""
    if language_code and language_code.lower().split("-")[0] == "es":
        return SPANISH
    return ENGLISH
