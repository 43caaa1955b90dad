"""Feedback phrasings with the intents they should produce: the test table and a held-out list.

Each row is ``(text, expected)`` where ``expected`` maps an intent id to the direction of its
primary adjustment: ``">"`` (scale above 1), ``"<"`` (below 1) or the value a ``set`` must have.
An empty mapping means "nothing should be understood" (irrelevant text, empty, emoji).

``HELDOUT`` was written *before* the rules and prototypes were tuned and is never tuned on;
``bench/bench_interpret.py`` reports it separately so the figures stay honest.
"""

from __future__ import annotations

Row = tuple[str, dict[str, str]]

#: Written before tuning.  Do not edit to make the interpreter look better.
HELDOUT: list[Row] = [
    ("dá pra deixar a edição mais acelerada?", {"cuts_faster": ">"}),
    ("as cenas trocam rápido demais, fica difícil acompanhar", {"cuts_slower": "<"}),
    ("a câmera tá balançando muito", {"less_motion": "<"}),
    ("queria que o clipe abrisse direto no refrão", {"start_on_chorus": "chorus"}),
    ("ficou comprido, reduz um pouco", {"shorter": "<"}),
    ("tira essa parte de entrevista", {"less_talking": "<"}),
    ("mais closes do vocalista", {"more_faces": ">"}),
    ("quero sentir a pancada do grave, mais peso", {"more_energy": ">"}),
    ("cola os cortes no bumbo", {"beat_sync": ">"}),
    ("não deixa cortar a cabeça da galera", {"reframe_letterbox": "fit"}),
    ("tá tudo muito igual, varia mais as cenas", {"more_variety": ">"}),
    ("começa lá do início da música", {"start_at_beginning": "beginning"}),
    ("menos agito, algo mais tranquilo", {"less_energy": "<"}),
    ("make it snappier", {"cuts_faster": ">"}),
    ("the camera work is way too jittery", {"less_motion": "<"}),
    ("jump straight to the drop", {"start_on_drop": "drop"}),
    ("can we get more of the vocals and lyrics", {"more_singing": ">"}),
    ("keep it under 20 seconds", {"set_length": "20"}),
    ("don't chop off the drummer, show the full picture", {"reframe_letterbox": "fit"}),
    ("a little less talking please", {"less_talking": "<"}),
    ("great job guys, see you at the gig", {}),
    ("kkkkk top demais", {}),
]

#: The test table (tests/learning/test_interpret.py) — Brazilian Portuguese first.
TABLE: list[Row] = [
    # --- pt-BR: plain requests ---
    ("cortes mais rápidos", {"cuts_faster": ">"}),
    ("cortes mais rápidos no refrão", {"cuts_faster": ">"}),
    ("quero mais cortes", {"cuts_faster": ">"}),
    ("cortes mais lentos", {"cuts_slower": "<"}),
    ("menos cortes, por favor", {"cuts_slower": "<"}),
    ("planos mais longos", {"cuts_slower": "<"}),
    ("menos tremido", {"less_motion": "<"}),
    ("sem tremedeira", {"less_motion": "<"}),
    ("a câmera tá muito tremida", {"less_motion": "<"}),
    ("mais movimento", {"more_motion": ">"}),
    ("tá muito parado", {"more_motion": ">"}),
    ("começa no refrão", {"start_on_chorus": "chorus"}),
    ("abre direto no refrão", {"start_on_chorus": "chorus"}),
    ("começa no drop", {"start_on_drop": "drop"}),
    ("começa do início da música", {"start_at_beginning": "beginning"}),
    ("usa a parte mais forte da música", {"start_strongest": "strongest"}),
    ("um pouco mais curto", {"shorter": "<"}),
    ("tá comprido demais", {"shorter": "<"}),
    ("mais longo", {"longer": ">"}),
    ("ficou curto", {"longer": ">"}),
    ("muito mais energia", {"more_energy": ">"}),
    ("mais intenso", {"more_energy": ">"}),
    ("algo mais calmo", {"less_energy": "<"}),
    ("mais rostos", {"more_faces": ">"}),
    ("mais close no vocalista", {"more_faces": ">"}),
    ("menos close", {"fewer_faces": "<"}),
    ("mais planos abertos do palco", {"fewer_faces": "<"}),
    ("mais cantoria", {"more_singing": ">"}),
    ("quero ver a letra, mais partes cantadas", {"more_singing": ">"}),
    ("não quero tanta gente falando", {"less_talking": "<"}),
    ("menos fala", {"less_talking": "<"}),
    ("tira as entrevistas", {"less_talking": "<"}),
    ("mais das entrevistas", {"more_talking": ">"}),
    ("cortes na batida", {"beat_sync": ">"}),
    ("sincroniza com o ritmo", {"beat_sync": ">"}),
    ("mais variedade de cenas", {"more_variety": ">"}),
    ("tá repetitivo", {"more_variety": ">"}),
    ("mais explosões", {"more_impact": ">"}),
    ("menos impacto", {"less_impact": "<"}),
    ("não corte as pessoas", {"reframe_letterbox": "fit"}),
    ("mostra a imagem inteira", {"reframe_letterbox": "fit"}),
    ("centraliza", {"reframe_center": "center"}),
    ("foca no rosto", {"reframe_faces": "faces"}),
    ("não corta no meio da frase", {"cleaner_edges": ">"}),
    ("cortes mais precisos", {"tighter_edges": "<"}),
    ("30 segundos", {"set_length": "30"}),
    # --- pt-BR: negations ---
    ("não quero cortes rápidos", {"cuts_slower": "<"}),
    ("não quero tanta energia", {"less_energy": "<"}),
    ("nada de close", {"fewer_faces": "<"}),
    ("sem cantoria", {"less_singing": "<"}),
    ("não precisa de tanta explosão", {"less_impact": "<"}),
    # --- pt-BR: intensities ---
    ("bem mais rápido", {"cuts_faster": ">"}),
    ("levemente mais lento", {"cuts_slower": "<"}),
    ("muito menos fala", {"less_talking": "<"}),
    # --- pt-BR: mixed intents in one sentence ---
    ("cortes mais rápidos e menos tremido", {"cuts_faster": ">", "less_motion": "<"}),
    ("mais energia menos fala", {"more_energy": ">", "less_talking": "<"}),
    ("começa no refrão e deixa mais curto", {"start_on_chorus": "chorus", "shorter": "<"}),
    ("gostei, mas quero mais rostos e menos conversa", {"more_faces": ">", "less_talking": "<"}),
    ("sem tremedeira, com cortes no ritmo da batida", {"less_motion": "<", "beat_sync": ">"}),
    # --- pt-BR: typos, no accents ---
    ("cortes mais rapidos", {"cuts_faster": ">"}),
    ("cortes rápidoss", {"cuts_faster": ">"}),
    ("muito tremdo", {"less_motion": "<"}),
    ("mais enrgia", {"more_energy": ">"}),
    ("nao quero tanta gente falando", {"less_talking": "<"}),
    # --- pt-BR: paraphrases (embeddings) ---
    ("o vídeo tá arrastado, enxuga", {"shorter": "<"}),
    ("mix up the shots", {"more_variety": ">"}),
    ("deixa as cenas respirarem", {"cuts_slower": "<"}),
    # --- English ---
    ("faster cuts", {"cuts_faster": ">"}),
    ("less shaky camera, start on the chorus", {"less_motion": "<", "start_on_chorus": "chorus"}),
    ("slower cuts please", {"cuts_slower": "<"}),
    ("way more energy", {"more_energy": ">"}),
    ("make it a bit shorter", {"shorter": "<"}),
    ("the clip is too long", {"shorter": "<"}),
    ("more close-ups", {"more_faces": ">"}),
    ("less talking", {"less_talking": "<"}),
    ("no talking", {"less_talking": "<"}),
    ("I don't want fast cuts", {"cuts_slower": "<"}),
    ("cuts on the beat", {"beat_sync": ">"}),
    ("more variety", {"more_variety": ">"}),
    ("show the whole frame", {"reframe_letterbox": "fit"}),
    ("don't crop people out", {"reframe_letterbox": "fit"}),
    ("focus on the face", {"reframe_faces": "faces"}),
    ("start on the drop", {"start_on_drop": "drop"}),
    ("more singing and lyrics", {"more_singing": ">"}),
    ("more explosions and impacts", {"more_impact": ">"}),
    ("too much movement", {"less_motion": "<"}),
    ("calmer and softer", {"less_energy": "<"}),
    ("stop cutting mid-sentence", {"cleaner_edges": ">"}),
    ("faster cuts but not so shaky", {"cuts_faster": ">", "less_motion": "<"}),
    ("make it longer, around 45 seconds", {"longer": ">", "set_length": "45"}),
    # --- nothing to understand ---
    ("adorei a música, obrigado", {}),
    ("what time is the show?", {}),
    ("asdf qwer", {}),
    ("", {}),
    ("🔥🔥🔥", {}),
    ("parabéns pelo trabalho, ficou incrível", {}),
    ("thanks guys!", {}),
]
