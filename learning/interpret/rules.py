"""Explicit rules: keywords + modifiers (negation, intensity, complaint) → intents.

Why rules first: a keyword lexicon is exact where feedback uses the obvious words ("cortes mais
rápidos", "less shaky"), it gets *direction* right (embeddings barely tell "mais" from "menos"),
and it says which words triggered what.  The embedding matcher (``embed.py``) only sees the
clauses the rules left untouched.

How a clause is read:

1. ``normalize`` folds case and accents (``unicodedata``) and drops apostrophes ("don't" →
   "dont"), so "RÁPIDOS", "rapidos" and "rápidos" are the same token.
2. Every token is looked up in ``LEXICON`` (concept → words, prefix stems, multi-word phrases).
   A token that matches nothing but is close to a lexicon word (``difflib`` ratio ≥ 0.82, five
   letters or more: "rapdos", "tremdo", "enrgia") matches with a typo penalty.
3. ``RULES`` are tried in order; a rule needs one unused token per concept it names, so a token
   is never read twice ("cortes mais longos" is slower cuts, not also "longer clips").
4. Modifier tokens (negation, less/more, complaint, state verbs, intensity) attach to the rule
   match they are inside of, else the next match to their right (the prefix position in both
   languages: "não quero…", "less shaky"), else the previous one; postfix words ("demais",
   "too much") prefer the left.  So "mais energia menos fala" is two intents with two
   directions even without a comma.
5. Direction: a match is *flipped* to its intent's opposite when a negation, a less-word or a
   complaint ("demais", "too", "tanta") attaches to it, or a state verb ("tá lento", "it is
   slow") does without an explicit more/less: describing the clip is a complaint about it.
   Some concepts are complaints by nature ("tremido", "repetitivo", "cortando a cabeça"): for
   those a negation does not flip ("sem tremedeira" = "menos tremido" = "tá tremido").
6. Intensity: "muito", "bem mais", "a lot", "way more" raise every scale step to the power
   ``STRONG_EXP``; "um pouco", "levemente", "a bit" to ``WEAK_EXP`` (smaller step).

Plain Python, deterministic, no model.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

STRONG_EXP = 1.6
WEAK_EXP = 0.5
TYPO_PENALTY = 0.88
FUZZY_CUTOFF = 0.82

_APOS = re.compile(r"['’`´]")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """Lower-case, strip accents and apostrophes; keep letters, digits and spaces."""
    text = _APOS.sub("", text.lower())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text


@dataclass(frozen=True)
class Token:
    """One word of a clause: its normalised form and where it lies in the original text."""

    norm: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text`` (original offsets kept, so a phrase can be quoted back)."""
    out: list[Token] = []
    for m in _TOKEN.finditer(_APOS.sub("\u200b", text)):
        norm = normalize(m.group()).replace("\u200b", "")
        if norm:
            out.append(Token(norm, m.start(), m.end()))
    # Join the pieces of "don't" ("don" + "t" around the apostrophe) back into one token.
    merged: list[Token] = []
    for tok in out:
        if merged and merged[-1].end + 1 == tok.start and text[merged[-1].end] in "'’`´":
            prev = merged.pop()
            merged.append(Token(prev.norm + tok.norm, prev.start, tok.end))
        else:
            merged.append(tok)
    return merged


# --- lexicon ---------------------------------------------------------------------------------
# One string per concept: words separated by spaces; "stem*" matches any word starting with the
# stem; "a_lot" is a multi-word phrase.  Accent-free, lower-case (the normalised form).


def words(spec: str) -> frozenset[str]:
    """A set of words written as one space-separated string (keeps the lexicon readable)."""
    return frozenset(spec.split())


def _lex(spec: str) -> tuple[frozenset[str], tuple[str, ...], tuple[tuple[str, ...], ...]]:
    words: set[str] = set()
    stems: list[str] = []
    multi: list[tuple[str, ...]] = []
    for item in spec.split():
        if item.endswith("*"):
            stems.append(item[:-1])
        elif "_" in item:
            multi.append(tuple(item.split("_")))
        else:
            words.add(item)
    return frozenset(words), tuple(stems), tuple(multi)


_LEXICON_SPEC: dict[str, str] = {
    # modifiers
    "NEG": "nao n sem nunca nem jamais not dont never without nothing avoid evita evite evitar stop "
    "tira tire tirar tirem remove remova remover removing elimina elimine eliminar cant wont doesnt "
    "didnt isnt arent shouldnt nope para_de pare_de parar_de chega_de get_rid no_more nada_de",
    "LESS": "menos less fewer lower reduz reduza reduzir reduce reduced decrease diminui diminua diminuir "
    "tone_down cut_down_on",
    "MORE": "mais more extra aumenta aumente aumentar increase boost add adiciona adicione",
    "COMPLAINT": "demais too tanto tanta tantos tantas excesso excessivo excessiva exagerado exagerada "
    "exagero overly so_much so_many much_too",
    "STATE": "ta tah esta estao tao ficou ficaram fica e is was its are looks feels seems parece parecem",
    "LACK": "falta faltou faltando faltam pouca pouco poucos poucas lacks lacking lack needs need "
    "precisa preciso missing",
    "STRONG": "muito muita muitos muitas mto mt mta bem bastante super extremamente totalmente much lot "
    "way really very hiper mega ultra muitissimo bastante a_lot way_more much_more",
    "WEAK": "pouquinho levemente ligeiramente slightly somewhat kinda tad um_pouco um_pouquinho "
    "so_um_pouco a_bit a_little a_tad little_bit meio",
    # pace of the cuts
    "CUT": "corte cortes cortar corta cortando cortem cortam edicao edicoes edit edits editing montagem "
    "transicao transicoes transition transitions cut cuts cutting troca trocas plano planos shot shots "
    "take takes cena cenas scene scenes pace ritmo",
    "FAST": "rapido rapidos rapida rapidas rapidez rapid* ligeiro ligeiros ligeira acelerado acelerada "
    "aceleradas acelerados acelera acelerar agil ageis frenetico frenetica dinamico dinamica dinamicos "
    "fast faster quick quicker quickly snappy snappier speedy speed frenetic curto curtos curta curtas "
    "short shorter picotado picotada veloz velozes",
    "SLOW": "lento lentos lenta lentas lentamente devagar slow slower slowly longo longos longa longas long "
    "longer calmo calmos calma calmas calm calmer demorado demorados demorada respirar respirem breathe "
    "pausado pausada tranquilo tranquilos",
    "QUANT": "mais more menos less fewer many muitos muitas poucos few",
    "PRECISE": "precisao precisos precisas exatos exatas exatamente precise precisely exact exactly",
    # motion
    "MOTION": "movimento movimentos movimentacao movimentada movimentado movimentadas mexendo mexer "
    "motion movement movements moving action acao danca dancando dancing dance",
    "SHAKY": "tremido tremida tremidos tremidas tremendo treme tremer tremedeira tremor trem* shaky shake "
    "shaking jittery jitter wobbly wobble wobbling balancando balanca balancar instavel instaveis "
    "unstable jumpy jerky choppy chacoalhando chacoalha sacudindo sacode sacudida handheld",
    "STABLE": "estavel estaveis stable steady steadier parado parados parada paradas static firme estatico estatica",
    # where the music starts
    "CHORUS": "refrao refroes refrain chorus choruses",
    "DROP": "drop drops",
    "BEGIN": "inicio comeco comecinho beginning intro introducao from_the_start",
    "START": "comeca comecar comece comecando comecem inicia iniciar inicie abre abrir abra abrindo start "
    "starts starting begin begins open opens direto straight entra entrar jump",
    "PART": "parte partes part trecho momento moment section secao",
    "BEST": "forte melhor best strongest strong top principal alto",
    "PEAK": "climax auge apice pico peak",
    # length
    "SHORT": "curto curtos curta curtas curtinho encurta encurtar encurte short shorter shorten menor "
    "enxuto enxuta breve brief conciso concisa concise trim compacto",
    "LONG": "longo longos longa longas comprido comprida compridos long longer lengthen maior extend "
    "estende estender alonga alongar mais_tempo more_time",
    "DURATION": "duracao tamanho length duration",
    # energy
    "ENERGY": "energia energetico energetica energy energetic intenso intensa intensidade intense "
    "intensity pesado pesada heavy heavier pegada empolgante empolgacao animado animada animacao hype "
    "hyped agitado agitada agito forte fortes exciting excitement power powerful potente loud louder barulho "
    "barulhento vibrante punch punchy punchier pressao adrenalina adrenaline",
    "CALM": "calmo calma calmos calm calmer tranquilo tranquila suave soft softer chill relax relaxado "
    "relaxing leve mellow quiet quieter intimista intimate sereno gentle",
    # faces / framing
    "FACE": "rosto rostos cara caras face faces close closes closeup closeups close_up primeiro_plano "
    "expressao expressoes expression expressions rostinho",
    "FOCUS": "foca focar foque foco focus focused segue seguir siga follow track acompanha acompanhar "
    "enquadra enquadrar",
    "WIDE": "aberto abertos aberta abertas wide plano_geral planos_abertos plano_aberto wide_shot wide_shots "
    "planos_gerais palco stage publico plateia crowd",
    "CROP": "cortar corte corta cortando cortou cortada cortadas cortado cortados cortam cortem crop "
    "crops cropped cropping cut_off cutoff cutting_off cuts_off chop chopped chopping",
    "BODY": "pessoa pessoas gente cabeca cabecas head heads people person artista artistas banda band "
    "membros integrante integrantes musico musicos corpo corpos body bodies laterais lado lados sides "
    "edges bordas borda galera pessoal baterista drummer guitarrista guitarist singer cantor cantora "
    "vocalista members member ninguem nobody anyone anybody",
    "WHOLE": "inteiro inteira inteiros inteiras todo toda tudo whole entire full completo completa everything original",
    "FRAME": "imagem imagens quadro frame image picture enquadramento tela screen video cena formato cenario",
    "LETTERBOX": "letterbox letterboxed barras_pretas black_bars widescreen",
    "CENTER": "centraliza centralizar centralize centro center centre centered centred centralizado centralizada",
    # singing / talking
    "SING": "canto cantando cantar canta cante cantoria cantada cantadas cantado cantados cantam sing "
    "singing sings vocal vocais vocals voz vozes voice letra letras lyric lyrics karaoke",
    "INSTRUMENTAL": "instrumental instrumentais",
    "TALK": "fala falas falando falar falam falou conversa conversas conversando papo talk talking talks "
    "speech speeches speaking speak dialogo dialogos dialogue dialog entrevista entrevistas interview "
    "interviews discurso narracao chatter chatting blabla",
    # rhythm / variety / impacts
    "BEAT": "batida batidas beat beats ritmo rhythm rhythmic sincronia sincronizado sincronizados "
    "sincroniza sincronizar sync synced syncing synchronized compasso bpm groove percussao percussion "
    "bumbo kick downbeat no_tempo in_time",
    "VARIETY": "variedade variado variada variados variadas variar varia variacao variety varied vary "
    "diverso diversos diversidade diverse diferente diferentes different novidade novelty",
    "REPETITIVE": "repetitivo repetitiva repetitivos repetitive repetindo repete repeat repeating repeated "
    "monotono monotona monotonous igual iguais same mesmas mesmos",
    "IMPACT": "impacto impactos impact impacts impactante explosao explosoes explosion explosions explosivo "
    "estouro estouros pancada pancadas porrada boom booms bang bangs crash",
    # clip edges
    "MID": "meio metade mid middle midsentence",
    "SENTENCE": "frase frases palavra palavras sentence sentences word words verso line phrase nota",
    "ABRUPT": "abrupto abrupta abruptos abruptas abruptamente abrupt abruptly brusco brusca bruscos seco "
    "sudden suddenly do_nada",
    "PAUSE": "pausa pausas pause pauses",
}

LEXICON = {name: _lex(spec) for name, spec in _LEXICON_SPEC.items()}
MODIFIERS = ("NEG", "LESS", "MORE", "COMPLAINT", "STATE", "LACK", "STRONG", "WEAK")
#: Modifiers that say which way (or how much) a clause asks: a clause without any may inherit them.
DIRECTION_MODIFIERS = frozenset(MODIFIERS)
_POSTFIX = frozenset({"demais", "a_lot", "much", "lot", "so_much", "so_many", "much_too"})
_ALL_WORDS: tuple[str, ...] = tuple(
    sorted({w for name, (words, _, _) in LEXICON.items() if name not in MODIFIERS for w in words if len(w) >= 5})
)
#: Frequent words that are never typos of a keyword ("camera" is not "calmer").
COMMON_WORDS = words(
    "camera cameras video videos musica musicas music song songs clipe clipes clip clips quero queria "
    "gostei gosto adorei amei favor please obrigado obrigada valeu thanks thank great about could "
    "would should there their where which coloca colocar deixa deixar parte partes every making "
    "pessoal artista banda cantor cantora singer final ending inicio comeco acho think maybe talvez "
    "ainda still agora assim tambem porque because while muito muita really other outro outra"
)


def _word_concepts() -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for name, entry in LEXICON.items():
        for w in entry[0]:
            out[w] = out.get(w, frozenset()) | {name}
    return out


_WORD_CONCEPTS = _word_concepts()


@lru_cache(maxsize=4096)
def concepts_of(token: str) -> tuple[tuple[str, float], ...]:
    """The concepts a single token matches, each with a match quality (1 = exact, <1 = typo)."""
    found: dict[str, float] = {}
    for name in _WORD_CONCEPTS.get(token, ()):
        found[name] = 1.0
    for name, (_, stems, _) in LEXICON.items():
        if any(token.startswith(s) for s in stems):
            found.setdefault(name, 1.0)
    if found or len(token) < 5 or token.isdigit() or token in COMMON_WORDS:
        return tuple(sorted(found.items()))
    # A typo: the closest content word with the same first letter, if close enough ("rapdos" →
    # "rapidos"); short words need to be closer (one slip in six letters is a different word
    # more often than a typo).
    cutoff = FUZZY_CUTOFF if len(token) > 6 else 0.86
    close = [w for w in difflib.get_close_matches(token, _ALL_WORDS, n=3, cutoff=cutoff) if w[0] == token[0]]
    if close:
        for name in _WORD_CONCEPTS[close[0]]:
            found[name] = TYPO_PENALTY
    else:
        # Stems too: "tremdo" is close to "trem" + something; compare the stem-length prefix.
        for name, (_, stems, _) in LEXICON.items():
            if name in MODIFIERS:
                continue
            for s in stems:
                close_stem = difflib.SequenceMatcher(None, token[: len(s) + 1], s).ratio() >= 0.85
                if len(s) >= 4 and token[0] == s[0] and close_stem:
                    found[name] = TYPO_PENALTY
    return tuple(sorted(found.items()))


@dataclass
class Slot:
    """What one token position of a clause can stand for."""

    concepts: dict[str, float] = field(default_factory=dict)
    modifiers: set[str] = field(default_factory=set)
    postfix: bool = False


def read_slots(tokens: list[Token], *, language: str) -> list[Slot]:
    """Concepts and modifiers at every position (multi-word phrases mark all their positions)."""
    norms = [t.norm for t in tokens]
    slots = [Slot() for _ in tokens]
    for name, (_, _, multi) in LEXICON.items():
        for phrase in multi:
            n = len(phrase)
            for i in range(len(norms) - n + 1):
                if tuple(norms[i : i + n]) == phrase:
                    for j in range(i, i + n):
                        if name in MODIFIERS:
                            slots[j].modifiers.add(name)
                            slots[j].postfix |= "_".join(phrase) in _POSTFIX
                        else:
                            slots[j].concepts[name] = 1.0
    # "um pouco" is a weak intensity, not a lack; "mais tempo" is length, not "more".
    for i, tok in enumerate(norms):
        slot = slots[i]
        if "WEAK" in slot.modifiers or slot.concepts:
            continue
        for name, quality in concepts_of(tok):
            if name in MODIFIERS:
                slot.modifiers.add(name)
            else:
                slot.concepts[name] = quality
        if tok in _POSTFIX:
            slot.postfix = True
    # English "no" is a negation; Portuguese "no" is "in the" ("no refrão").
    if language == "en":
        for i, tok in enumerate(norms):
            if tok == "no":
                slots[i].modifiers.add("NEG")
    return slots


# --- rules -----------------------------------------------------------------------------------

Flip = Literal["normal", "never", "only_more"]


@dataclass(frozen=True)
class Rule:
    """``intent`` when every concept in ``needs`` is found on a distinct unused token.

    ``flip``: "normal" (negation / less / complaint turn it into the opposite), "never" (the
    wording is a complaint already: "não corte as pessoas"), "only_more" (a complaint word:
    only an explicit "more" turns it around).  ``requires_neg``: only when a negation is in the
    clause ("don't crop").  ``alone``: only when no other rule matched the clause.
    """

    intent: str
    needs: tuple[str, ...]
    confidence: float
    flip: Flip = "normal"
    requires_neg: bool = False
    alone: bool = False
    locative: bool = False  # a bare mention ("no refrão") that is weaker beside another intent
    window: int = 5  # the most tokens its keywords may lie apart


RULES: tuple[Rule, ...] = (
    Rule("reframe_letterbox", ("CROP", "BODY"), 0.9, "never"),
    Rule("reframe_letterbox", ("WHOLE", "FRAME"), 0.85),
    Rule("reframe_letterbox", ("LETTERBOX",), 0.9),
    Rule("reframe_faces", ("FOCUS", "FACE"), 0.9),
    Rule("reframe_center", ("CENTER",), 0.85),
    Rule("cleaner_edges", ("MID", "SENTENCE"), 0.9, "never"),
    Rule("cleaner_edges", ("ABRUPT",), 0.8, "never"),
    Rule("cleaner_edges", ("PAUSE",), 0.75, "never"),
    Rule("tighter_edges", ("CUT", "PRECISE"), 0.85),
    Rule("start_strongest", ("PART", "BEST"), 0.85, window=3),
    Rule("start_strongest", ("PEAK",), 0.8),
    Rule("start_on_chorus", ("START", "CHORUS"), 0.9),
    Rule("start_on_chorus", ("CHORUS",), 0.75, locative=True),
    Rule("start_on_drop", ("START", "DROP"), 0.9),
    Rule("start_on_drop", ("DROP",), 0.75, locative=True),
    Rule("start_at_beginning", ("START", "BEGIN"), 0.9),
    Rule("start_at_beginning", ("BEGIN",), 0.75, locative=True),
    Rule("cuts_slower", ("CUT", "SLOW"), 0.9),
    Rule("cuts_faster", ("CUT", "FAST"), 0.9),
    Rule("beat_sync", ("CUT", "BEAT"), 0.9),
    Rule("fewer_faces", ("WIDE",), 0.8),
    Rule("cuts_faster", ("CUT", "QUANT"), 0.8, window=1),
    Rule("less_motion", ("SHAKY",), 0.9, "only_more"),
    Rule("less_motion", ("STABLE",), 0.8),
    Rule("more_motion", ("MOTION",), 0.85),
    Rule("shorter", ("SHORT",), 0.85),
    Rule("longer", ("LONG",), 0.85),
    Rule("longer", ("DURATION", "QUANT"), 0.8),
    Rule("more_energy", ("ENERGY",), 0.85),
    Rule("less_energy", ("CALM",), 0.8),
    Rule("cuts_faster", ("FAST",), 0.75),
    Rule("cuts_slower", ("SLOW",), 0.75),
    Rule("more_faces", ("FACE",), 0.85),
    Rule("less_singing", ("INSTRUMENTAL",), 0.85),
    Rule("more_singing", ("SING",), 0.85),
    Rule("more_talking", ("TALK",), 0.85),
    Rule("beat_sync", ("BEAT",), 0.85),
    Rule("more_variety", ("REPETITIVE",), 0.85, "only_more"),
    Rule("more_variety", ("VARIETY",), 0.85),
    Rule("more_impact", ("IMPACT",), 0.85),
    Rule("tighter_edges", ("PRECISE",), 0.7),
    Rule("reframe_letterbox", ("CROP",), 0.8, "never", requires_neg=True, alone=True),
)


@dataclass
class RuleMatch:
    """A rule that fired on a clause: its intent after direction, strength and the words."""

    rule: Rule
    positions: list[int]
    quality: float
    modifiers: set[str] = field(default_factory=set)
    modifier_positions: list[int] = field(default_factory=list)

    @property
    def span(self) -> tuple[int, int]:
        return min(self.positions), max(self.positions)

    @property
    def flipped(self) -> bool:
        m = self.modifiers
        negative = bool(m & {"NEG", "LESS", "COMPLAINT"})
        if self.rule.flip == "never":
            return False
        if self.rule.flip == "only_more":
            return "MORE" in m and not negative
        if negative:
            return True
        return "STATE" in m and not (m & {"MORE", "LESS", "LACK"})

    @property
    def exponent(self) -> float:
        if "WEAK" in self.modifiers:
            return WEAK_EXP
        if "STRONG" in self.modifiers:
            return STRONG_EXP
        return 1.0

    @property
    def confidence(self) -> float:
        return self.rule.confidence * self.quality


def match_rules(slots: list[Slot]) -> list[RuleMatch]:
    """Apply ``RULES`` in order to one clause; attach modifiers to the matches (module doc)."""
    used: set[int] = set()
    matches: list[RuleMatch] = []
    has_neg = any("NEG" in s.modifiers for s in slots)
    for rule in RULES:
        if rule.requires_neg and not has_neg:
            continue
        if rule.alone and matches:
            continue
        positions: list[int] = []
        quality = 1.0
        for concept in rule.needs:
            best: tuple[float, int] | None = None
            for i, slot in enumerate(slots):
                if i in used or i in positions or concept not in slot.concepts:
                    continue
                q = slot.concepts[concept]
                if best is None or q > best[0]:
                    best = (q, i)
            if best is None:
                positions = []
                break
            positions.append(best[1])
            quality *= best[0]
        if positions:
            # Concepts of one rule belong together: far apart in a long clause, they don't.
            if max(positions) - min(positions) > rule.window:
                continue
            used.update(positions)
            matches.append(RuleMatch(rule, positions, quality))
    if not matches:
        return matches
    for i, slot in enumerate(slots):
        if not slot.modifiers:
            continue
        target = _attach(matches, i, prefer_left=slot.postfix)
        target.modifiers |= slot.modifiers
        target.modifier_positions.append(i)
    return matches


def _attach(matches: list[RuleMatch], i: int, *, prefer_left: bool) -> RuleMatch:
    inside = [m for m in matches if m.span[0] <= i <= m.span[1]]
    if inside:
        return inside[0]
    right = sorted((m for m in matches if m.span[0] > i), key=lambda m: m.span[0])
    left = sorted((m for m in matches if m.span[1] < i), key=lambda m: -m.span[1])
    order = (left + right) if prefer_left else (right + left)
    return order[0]


_LENGTH = re.compile(
    r"\b(\d{1,3})(?:[.,](\d+))?\s*(s|seg|segs|segundo|segundos|sec|secs|second|seconds|min|minuto|minutos"
    r"|minute|minutes)\b"
)
_NUMBER_WORDS = {"um": 1, "uma": 1, "one": 1, "a": 1, "meio": 0.5, "half": 0.5}
_MINUTE_WORDS = re.compile(r"\b(um|uma|one|a|meio|half)\s+(minuto|minute|min)\b")


def explicit_length(norm_text: str) -> tuple[float, str] | None:
    """A length said in seconds or minutes ("30 segundos", "under 20s", "um minuto").

    Returns ``(seconds, matched text)`` or None.  Clamping to the engine's range is left to the
    engine (``PARAM_SPECS``); the value is kept as said so the artist sees what was understood.
    """
    m = _LENGTH.search(norm_text)
    if m:
        value = float(f"{m.group(1)}.{m.group(2) or 0}")
        if m.group(3).startswith("min"):
            value *= 60
        return value, m.group(0)
    m2 = _MINUTE_WORDS.search(norm_text)
    if m2:
        return _NUMBER_WORDS[m2.group(1)] * 60, m2.group(0)
    return None
