"""The intent catalogue: what an artist can ask for in feedback, and what it does to the engine.

An *intent* is one thing the feedback asks for ("faster cuts", "start on the chorus").  Each has

* ``effects``: the engine adjustments it implies, at the *normal* intensity.  Scales are the
  step for a plain "mais rápido"; the rules raise them to a power for "muito mais" (bigger) or
  "um pouco mais" (smaller), so the catalogue only has to say the direction and a sensible
  base step.  The first effect is the *primary* one: the one whose direction tests check.
* ``opposite``: the intent a negation turns it into ("não quero cortes rápidos" = slower cuts).
  Scale intents come in pairs; a ``set`` intent may have none (then a negated mention is
  reported as not understood rather than guessed).
* ``prototypes``: several Brazilian-Portuguese and English phrasings for the embedding matcher.
  They are positive requests (no negation words) because e5 embeddings barely see negation;
  the interpreter strips negation before embedding and applies it itself.

Every engine feature and param is covered by at least one intent (``coverage()`` checks it and a
test pins it), so no part of the engine is out of reach of plain feedback.

Plain Python: no Django, importable by the learning services, the API docs and the bench.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .contracts import Adjustment


@dataclass(frozen=True)
class Effect:
    """One adjustment an intent implies (``value`` is the base step for scales)."""

    kind: Literal["weight", "param"]
    key: str
    op: Literal["scale", "set"]
    value: float | str


@dataclass(frozen=True)
class Intent:
    """One catalogue entry (see the module doc)."""

    id: str
    description: str
    effects: tuple[Effect, ...]
    opposite: str | None = None
    prototypes: tuple[str, ...] = ()

    @property
    def primary(self) -> Effect:
        return self.effects[0]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description (for API docs and the bench)."""
        return {
            "id": self.id,
            "description": self.description,
            "opposite": self.opposite,
            "effects": [{"kind": e.kind, "key": e.key, "op": e.op, "value": e.value} for e in self.effects],
            "examples": list(self.prototypes[:4]),
        }


def _w(key: str, value: float) -> Effect:
    return Effect("weight", key, "scale", value)


def _ps(key: str, value: float) -> Effect:
    return Effect("param", key, "scale", value)


def _set(key: str, value: str) -> Effect:
    return Effect("param", key, "set", value)


_CATALOGUE: tuple[Intent, ...] = (
    # --- pace of the cuts ----------------------------------------------------------------------
    Intent(
        "cuts_faster",
        "faster, more frequent cuts (montage cuts per bar up, shorter minimum shot, favour shot changes)",
        (_ps("cuts_per_bar", 2.0), _ps("min_shot_s", 0.7), _w("shot_change", 1.3)),
        "cuts_slower",
        (
            "cortes mais rápidos",
            "edição mais acelerada",
            "troca de cena mais rápida",
            "mais cortes",
            "deixa a montagem mais ágil e frenética",
            "corta mais vezes",
            "planos mais curtos",
            "faster cuts",
            "quicker edits",
            "more cuts, snappier editing",
            "make the editing faster paced",
            "shorter shots",
        ),
    ),
    Intent(
        "cuts_slower",
        "slower, fewer cuts (cuts per bar down, longer minimum shot, shot changes matter less)",
        (_ps("cuts_per_bar", 0.5), _ps("min_shot_s", 1.4), _w("shot_change", 0.77)),
        "cuts_faster",
        (
            "cortes mais lentos",
            "menos cortes",
            "edição mais calma, deixa as cenas respirarem",
            "planos mais longos",
            "troca de cena mais devagar",
            "segura mais cada cena",
            "slower cuts",
            "fewer cuts",
            "let the shots breathe",
            "longer shots, calmer editing",
            "hold each shot longer",
        ),
    ),
    # --- camera motion -------------------------------------------------------------------------
    Intent(
        "less_motion",
        "calmer, steadier footage (motion weighs less): 'less shaky'",
        (_w("motion", 0.6),),
        "more_motion",
        (
            "menos tremido",
            "câmera mais estável",
            "imagem mais parada e firme",
            "menos movimento de câmera",
            "sem câmera tremendo",
            "tá tudo balançando",
            "less shaky camera",
            "steadier footage",
            "less camera movement",
            "the camera is too jittery",
            "more stable shots",
        ),
    ),
    Intent(
        "more_motion",
        "more movement and action in the frame (motion weighs more)",
        (_w("motion", 1.5),),
        "less_motion",
        (
            "mais movimento",
            "mais ação na imagem",
            "cenas mais agitadas, com gente se mexendo",
            "tá muito parado",
            "quero mais dança e movimento",
            "more movement",
            "more action in the shots",
            "it feels too static",
            "show more dancing and moving",
        ),
    ),
    # --- where the hook's music starts ---------------------------------------------------------
    Intent(
        "start_on_chorus",
        "start the hook's music on the chorus (and favour peak sections in the hook)",
        (_set("music_start", "chorus"), _w("hook.section_peak", 1.3)),
        None,
        (
            "começa no refrão",
            "abre direto no refrão",
            "usa o refrão",
            "quero o refrão no clipe",
            "a parte que todo mundo canta junto",
            "start on the chorus",
            "open with the chorus",
            "use the chorus",
            "go straight to the chorus",
            "the part everyone sings along",
        ),
    ),
    Intent(
        "start_on_drop",
        "start the hook's music on the drop (the biggest rise in energy)",
        (_set("music_start", "drop"),),
        None,
        (
            "começa no drop",
            "abre na hora que a batida cai",
            "começa quando o beat entra pesado",
            "start on the drop",
            "open on the beat drop",
            "start when the bass drops",
        ),
    ),
    Intent(
        "start_at_beginning",
        "start the hook's music at the beginning of the track",
        (_set("music_start", "beginning"),),
        None,
        (
            "começa do início da música",
            "usa o começo da música",
            "desde o comecinho, com a introdução",
            "start from the beginning of the song",
            "use the intro",
            "from the very start of the track",
        ),
    ),
    Intent(
        "start_strongest",
        "start the hook's music on the strongest section (and favour peak sections)",
        (_set("music_start", "strongest"), _w("section_peak", 1.3)),
        None,
        (
            "usa a parte mais forte da música",
            "pega o auge da música",
            "a melhor parte da música",
            "o clímax da música",
            "use the strongest part of the song",
            "the best part of the track",
            "go for the climax",
            "the peak of the song",
        ),
    ),
    # --- length --------------------------------------------------------------------------------
    Intent(
        "shorter",
        "shorter clips (target length down)",
        (_ps("target_length_s", 0.75),),
        "longer",
        (
            "mais curto",
            "vídeo menor",
            "encurta o clipe",
            "tá comprido demais",
            "reduz a duração",
            "mais enxuto e direto",
            "shorter",
            "make it shorter",
            "the clip is too long",
            "cut it down, more concise",
            "trim it down",
        ),
    ),
    Intent(
        "longer",
        "longer clips (target length up)",
        (_ps("target_length_s", 1.33),),
        "shorter",
        (
            "mais longo",
            "vídeo maior",
            "aumenta a duração",
            "tá curto demais",
            "deixa o clipe mais comprido",
            "longer",
            "make it longer",
            "the clip is too short",
            "extend the video",
        ),
    ),
    Intent(
        "set_length",
        "a clip length in seconds, as said ('30 segundos', 'under 20 seconds')",
        (Effect("param", "target_length_s", "set", 30.0),),
        None,
        (),
    ),
    # --- energy --------------------------------------------------------------------------------
    Intent(
        "more_energy",
        "more energy: louder, more intense moments in the music and the original audio",
        (_w("music_energy", 1.4), _w("audio_energy", 1.4), _w("impact", 1.2)),
        "less_energy",
        (
            "mais energia",
            "mais intenso",
            "mais pesado e animado",
            "quero mais empolgação",
            "mais pegada",
            "tá sem graça, falta energia",
            "more energy",
            "more intense",
            "make it more hype",
            "it needs more power",
            "louder, more exciting moments",
        ),
    ),
    Intent(
        "less_energy",
        "calmer, softer moments (energy and impacts weigh less)",
        (_w("music_energy", 0.7), _w("audio_energy", 0.7), _w("impact", 0.85)),
        "more_energy",
        (
            "menos energia",
            "mais calmo",
            "mais tranquilo e suave",
            "algo mais leve e intimista",
            "menos agitado",
            "calmer",
            "softer, more chill",
            "less intense",
            "more mellow and relaxed",
            "quieter moments",
        ),
    ),
    # --- faces ---------------------------------------------------------------------------------
    Intent(
        "more_faces",
        "more faces and close-ups (face presence weighs more)",
        (_w("faces", 1.5),),
        "fewer_faces",
        (
            "mais rostos",
            "mais closes",
            "mais close no cantor",
            "mostra mais a cara da banda",
            "mais primeiro plano",
            "more faces",
            "more close-ups",
            "show the singer's face more",
            "more shots of the band members",
        ),
    ),
    Intent(
        "fewer_faces",
        "fewer faces and close-ups, more of the scene (face presence weighs less)",
        (_w("faces", 0.6),),
        "more_faces",
        (
            "menos rostos",
            "menos close",
            "mais planos abertos",
            "mostra mais o palco e o público",
            "fewer faces",
            "fewer close-ups",
            "more wide shots",
            "show the stage and the crowd instead",
        ),
    ),
    # --- singing / lyrics ----------------------------------------------------------------------
    Intent(
        "more_singing",
        "more singing and lyric lines (singing and lyric_line weigh more)",
        (_w("singing", 1.5), _w("lyric_line", 1.5)),
        "less_singing",
        (
            "mais canto",
            "mais partes cantadas",
            "mais da letra",
            "quero ver o cantor cantando",
            "mais vocal",
            "more singing",
            "more of the vocals",
            "more of the lyrics",
            "show the parts with the vocals",
        ),
    ),
    Intent(
        "less_singing",
        "less singing, more instrumental parts (singing and lyric_line weigh less)",
        (_w("singing", 0.6), _w("lyric_line", 0.6)),
        "more_singing",
        (
            "menos canto",
            "mais instrumental",
            "partes sem voz",
            "less singing",
            "more instrumental parts",
            "fewer vocals",
        ),
    ),
    # --- speech --------------------------------------------------------------------------------
    Intent(
        "less_talking",
        "less talking (speech weighs less)",
        (_w("speech", 0.5),),
        "more_talking",
        (
            "menos fala",
            "menos gente falando",
            "menos conversa",
            "tira as entrevistas",
            "menos papo",
            "less talking",
            "fewer people speaking",
            "less dialogue",
            "cut the interviews",
            "less chatter",
        ),
    ),
    Intent(
        "more_talking",
        "more talking: speeches, interviews, what people say (speech weighs more)",
        (_w("speech", 1.6),),
        "less_talking",
        (
            "mais fala",
            "mais das entrevistas",
            "quero ouvir o que eles falam",
            "mais conversa",
            "more talking",
            "more of the interview",
            "keep the speeches",
            "more dialogue",
        ),
    ),
    # --- rhythm --------------------------------------------------------------------------------
    Intent(
        "beat_sync",
        "cuts locked to the beat and rhythmic moments (beat strength and onset density weigh more)",
        (_w("beat_strength", 1.5), _w("onset_density", 1.2)),
        "less_beat_sync",
        (
            "cortes na batida",
            "no ritmo da música",
            "sincroniza com o beat",
            "corta no tempo da música",
            "mais percussão",
            "cuts on the beat",
            "sync the edits to the beat",
            "follow the rhythm",
            "more in time with the music",
        ),
    ),
    Intent(
        "less_beat_sync",
        "less tied to the beat (beat strength and onset density weigh less)",
        (_w("beat_strength", 0.7), _w("onset_density", 0.85)),
        "beat_sync",
        (
            "menos preso na batida",
            "não precisa seguir o ritmo",
            "mais solto do beat",
            "less locked to the beat",
            "looser, not so tied to the rhythm",
        ),
    ),
    # --- variety -------------------------------------------------------------------------------
    Intent(
        "more_variety",
        "more variety, fewer repeated-looking shots (novelty weighs more)",
        (_w("novelty", 1.5),),
        "less_variety",
        (
            "mais variedade",
            "cenas mais variadas",
            "tá repetitivo",
            "sempre as mesmas cenas",
            "mostra coisas diferentes",
            "more variety",
            "it's repetitive",
            "mix it up more",
            "different shots, not the same ones",
        ),
    ),
    Intent(
        "less_variety",
        "more consistent look (novelty weighs less)",
        (_w("novelty", 0.7),),
        "more_variety",
        (
            "menos variação",
            "mais consistente",
            "mantém o mesmo cenário",
            "less variety",
            "more consistent",
            "keep the same look throughout",
        ),
    ),
    # --- impacts -------------------------------------------------------------------------------
    Intent(
        "more_impact",
        "more impacts: hits, explosions, big moments (impact weighs more)",
        (_w("impact", 1.5),),
        "less_impact",
        (
            "mais impacto",
            "mais explosões",
            "mais momentos de impacto",
            "mais pancada",
            "more impact",
            "more explosions",
            "more big hits",
            "the bangs and booms",
        ),
    ),
    Intent(
        "less_impact",
        "fewer impacts and explosions (impact weighs less)",
        (_w("impact", 0.6),),
        "more_impact",
        (
            "menos impacto",
            "menos explosão",
            "fewer explosions",
            "less impact",
        ),
    ),
    # --- clip edges ----------------------------------------------------------------------------
    Intent(
        "cleaner_edges",
        "start and end clips on a pause or a cut, not mid-sentence (edges may move further)",
        (_ps("snap_tolerance_s", 1.5),),
        "tighter_edges",
        (
            "não corta no meio da frase",
            "termina na pausa",
            "o corte tá abrupto",
            "acaba no meio da palavra",
            "don't cut mid-sentence",
            "end on a pause",
            "the ending is too abrupt",
            "it cuts off in the middle of a word",
        ),
    ),
    Intent(
        "tighter_edges",
        "keep clip edges exactly where chosen (edges move less)",
        (_ps("snap_tolerance_s", 0.6),),
        "cleaner_edges",
        (
            "cortes mais precisos",
            "corta exatamente no ponto",
            "more precise edges",
            "cut exactly where I said",
        ),
    ),
    # --- framing -------------------------------------------------------------------------------
    Intent(
        "reframe_letterbox",
        "show the whole frame (fit over a blurred fill) instead of cropping",
        (_set("reframe", "fit"),),
        "reframe_faces",
        (
            "não corte as pessoas",
            "mostra a imagem inteira",
            "sem cortar as laterais",
            "quero o quadro todo",
            "tá cortando a cabeça do pessoal",
            "show the whole frame",
            "don't crop the image",
            "keep the full picture",
            "people are getting cut off at the edges",
        ),
    ),
    Intent(
        "reframe_center",
        "crop the centre of the frame",
        (_set("reframe", "center"),),
        None,
        (
            "centraliza",
            "corta no centro da imagem",
            "enquadra no meio",
            "center the shot",
            "crop the middle",
        ),
    ),
    Intent(
        "reframe_faces",
        "crop around faces (follow the face)",
        (_set("reframe", "faces"),),
        None,
        (
            "foca no rosto",
            "segue o rosto do cantor",
            "enquadra na cara",
            "focus on the face",
            "keep the face in frame",
            "follow the singer's face",
        ),
    ),
)

#: The catalogue by id, in a stable order.
INTENTS: dict[str, Intent] = {i.id: i for i in _CATALOGUE}


def intent_adjustment(
    intent_id: str,
    *,
    exponent: float = 1.0,
    confidence: float,
    phrase: str,
    source: str,
    set_value: str | float | None = None,
    max_step: float,
) -> list[Adjustment]:
    """The adjustments of ``intent_id`` at an intensity (``exponent`` on every scale step).

    ``set_value`` overrides the value of ``set`` effects (the number for ``set_length``).
    Scales are clamped to ``[1/max_step, max_step]`` and rounded so output is stable.
    """
    intent = INTENTS[intent_id]
    out: list[Adjustment] = []
    for e in intent.effects:
        value: float | str
        if e.op == "scale":
            v = float(e.value) ** exponent
            value = round(min(max_step, max(1.0 / max_step, v)), 4)
        else:
            value = e.value if set_value is None else set_value
        out.append(
            Adjustment(
                intent=intent.id,
                kind=e.kind,
                key=e.key,
                op=e.op,
                value=value,
                confidence=round(float(confidence), 4),
                phrase=phrase,
                source=source,
            )
        )
    return out


def coverage() -> dict[str, list[str]]:
    """Which intents touch each engine feature and param (every one must have at least one)."""
    from suggestions.engine.features import FEATURES
    from suggestions.engine.profiles import PARAM_SPECS

    cov: dict[str, list[str]] = {name: [] for name in (*FEATURES, *PARAM_SPECS)}
    for intent in _CATALOGUE:
        for e in intent.effects:
            name = e.key.rpartition(".")[2]
            if name in cov and intent.id not in cov[name]:
                cov[name].append(intent.id)
    return cov
