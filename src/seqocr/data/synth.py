"""Plain synthetic FSNS-style samples: a French street name and a 600x150 image of 4 views of its sign.

Sample ``i`` is a pure function of ``(seed, index, split)``. The ``train`` and ``test`` splits draw proper names
(first names, surnames, towns, saints) from disjoint vocabularies, so a held-out synthetic set measures
generalisation rather than memorisation; street types, particles, titles and common nouns are shared.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..errors import DataError

TILE, VIEWS, MAX_LEN = 150, 4, 37
APOS = "\u2018"  # FSNS's canonical apostrophe: charset id 2 lists ’ ' ‘ and decodes to the last
HYPHEN = "\u2014"  # FSNS's canonical hyphen: id 17 lists - and — (labels use it, signs show "-")
FONT_PACKAGE = "fonts-dejavu-core"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSansCondensed-Bold.ttf",
    "/usr/local/share/fonts/DejaVuSansCondensed-Bold.ttf", "/Library/Fonts/DejaVuSansCondensed-Bold.ttf")

# Street types with relative weights (FSNS is dominated by "Rue").
STREET_TYPES = {
    "Rue": 45, "Avenue": 10, "Boulevard": 6, "Place": 7, "Impasse": 6, "Allée": 5, "Chemin": 6, "Route": 4,
    "Quai": 2, "Square": 1.5, "Cours": 1, "Passage": 2, "Rond-Point": 1, "Sentier": 1, "Villa": 1, "Cité": 1,
    "Résidence": 1, "Esplanade": 0.5, "Parvis": 0.5, "Promenade": 0.5,
}
TITLES = "Général Docteur Maréchal Président Professeur Commandant Capitaine Colonel Lieutenant Abbé Amiral Chanoine"
DATES = ("8 Mai 1945", "11 Novembre 1918", "14 Juillet", "19 Mars 1962", "4 Septembre", "18 Juin 1940", "1er Mai")
# Common nouns, shared by both splits: m = masculine, f = feminine, p = plural; "_" joins multi-word nouns.
COMMON_NOUNS = {
    "m": "Moulin Château Marché Port Pont Parc Stade Lavoir Cimetière Calvaire Presbytère Bois Four Puits Canal "
         "Collège Lycée Hôpital Abreuvoir Étang Ruisseau Pré Val Mont Clos Verger Chêne Théâtre Musée Jardin "
         "Commerce Hôtel_de_Ville Avenir Oratoire Viaduc Gué Champ Coteau",
    "f": "Gare Mairie Poste Église École Forge Chapelle Croix Paix Liberté République Libération Résistance "
         "Victoire Plage Source Tour Prairie Colline Forêt Tuilerie Briqueterie Abbaye Usine Ancienne_Poste",
    "p": "Lilas Roses Tilleuls Acacias Peupliers Platanes Marronniers Violettes Mimosas Jardins Vignes Prés Écoles "
         "Alpes Pyrénées Vosges Ardennes Fusillés Déportés Martyrs Jonquilles Glycines Hirondelles Chênes Sources "
         "Tanneurs Bouchers Tisserands Meuniers Carrières Écoliers Cerisiers Noyers Saules Bleuets",
}
# Proper names: split into train/test per token by a stable hash (see _split_of).
FIRST_NAMES = (
    "Victor Jean Pierre Paul Jacques Louis Charles Henri Émile Édouard Albert Georges André François Joseph Marcel "
    "Maurice Gustave Honoré Jules Léon Eugène Alphonse Auguste Camille Claude Étienne Gabriel Hector Ernest Frédéric "
    "Gaston Félix Raymond Roger Lucien Marie Anne Jeanne Louise Marguerite Simone Hélène Lucie Suzanne Geneviève "
    "Thérèse Irène Berthe Jean-Jacques Jean-Baptiste Aristide Anatole Théodore Jérôme Benoît Noël Raphaël Joël "
    "Anaïs Zoé Françoise Cécile Mathilde Élise Amédée Ambroise Germaine Odette Ignace Ferdinand Clément Rosa")
SURNAMES = (
    "Hugo Zola Pasteur Curie Voltaire Rousseau Molière Racine Corneille Diderot Balzac Flaubert Baudelaire Verlaine "
    "Rimbaud Apollinaire Camus Sartre Proust Dumas Daudet Mistral Lamartine Musset Vigny Michelet Renan Jaurès "
    "Gambetta Clemenceau Ferry Blum Leclerc Foch Joffre Gallieni Lyautey Hoche Kléber Marceau Carnot Condorcet "
    "Danton Mirabeau Lafayette Turenne Vauban Colbert Richelieu Mazarin Sully Berlioz Debussy Ravel Bizet Massenet "
    "Fauré Rameau Lully Chopin Delacroix Courbet Manet Monet Renoir Cézanne Degas Matisse Rodin Daguerre Niépce "
    "Ampère Arago Laplace Lavoisier Buffon Cuvier Lamarck Fresnel Coulomb Fourier Pascal Descartes Montaigne "
    "Rabelais Ronsard Fénelon Bossuet Montesquieu Chateaubriand Stendhal Mérimée Maupassant Péguy Claudel Valéry "
    "Giraudoux Gutenberg Parmentier Braille Eiffel Lumière Bréguet Blériot Mermoz Guynemer Garros Brassens Piaf "
    "Prévert Aragon Éluard Desnos Malraux Mauriac Bernanos Giono Pagnol Cocteau Sand Sévigné Récamier Dolet "
    "Calmette Roux Laennec Bichat Charcot Broca Pinel Dunant Schweitzer Lebrun Doumer Poincaré Fallières Thiers "
    "Grévy Loubet Deschanel Mendès-France Herriot Briand Lefebvre Lemaire Dupont Durand Petit Moreau Laurent "
    "Garnier Chevalier Mercier Boyer Blanchard Girard Bonnet Lambert Fournier Morel Roussel Guérin Muller Perrin "
    "Gauthier Masson Marchand Duval Dumont Brunet Leroy Gaillard Barbier Arnaud Aubert Lacroix Rolland Picard "
    "Lemoine Dufour Carré Daumier Hérold Ordener Quinet Littré Béranger Boileau Bérégovoy Texier")
TOWNS = (
    "Paris Lyon Marseille Bordeaux Toulouse Nantes Lille Rennes Reims Dijon Grenoble Angers Brest Tours Limoges "
    "Amiens Metz Besançon Perpignan Orléans Rouen Caen Nancy Mulhouse Nîmes Avignon Poitiers Pau Calais Cannes "
    "Antibes Béziers Colmar Quimper Lorient Vannes Chartres Bourges Nevers Auxerre Troyes Épinal Belfort Valence "
    "Annecy Chambéry Vienne Roanne Albi Cahors Agen Bayonne Biarritz Tarbes Lourdes Foix Rodez Millau Sète Alès "
    "Arles Aix Gap Digne Menton Grasse Fréjus Hyères Toulon Cholet Laval Angoulême Cognac Saintes Niort Périgueux "
    "Bergerac Brive Tulle Guéret Vichy Montluçon Mâcon Autun Beaune Dole Vesoul Verdun Sedan Soissons Compiègne "
    "Beauvais Évreux Dieppe Fécamp Honfleur Lisieux Alençon Granville Cherbourg Dinan Morlaix Vitré Fougères "
    "Étampes Meaux Melun Versailles Pontoise Argenteuil Créteil Italie Belgique Alsace Bretagne Normandie "
    "Bourgogne Lorraine Savoie Picardie Touraine Yvetot Ussel Oloron Auray Issoire Embrun Bagnols Montargis")
ARTICLE_TOWNS = (("le", "Havre"), ("le", "Mans"), ("le", "Puy"), ("la", "Rochelle"), ("le", "Creusot"),
                 ("les", "Andelys"), ("la", "Ciotat"), ("le", "Vésinet"), ("la", "Baule"), ("le", "Touquet"))
SAINTS = (
    "Saint-Martin Saint-Michel Saint-Pierre Saint-Jacques Saint-Louis Saint-Germain Saint-Denis Saint-Honoré "
    "Saint-Antoine Saint-Nicolas Saint-Éloi Saint-Vincent Saint-Laurent Saint-Roch Saint-Sauveur Saint-Exupéry "
    "Saint-Just Saint-Simon Saint-Lazare Saint-Sulpice Saint-Blaise Saint-Étienne Sainte-Anne Sainte-Catherine "
    "Sainte-Claire Sainte-Geneviève Sainte-Marthe Sainte-Thérèse Sainte-Odile Sainte-Cécile Notre-Dame Saint-Hilaire "
    "Saint-Joseph Saint-Jean Saint-Marc Saint-Paul Saint-Luc Saint-Rémy Saint-Benoît Sainte-Barbe")
PARTICLES = frozenset({"de", "du", "des", "la", "le", "les"})
_VOWELS = frozenset("AEIOUYHÂÀÉÈÊËÎÏÔÛÙÜŒ")


def _split_of(token: str) -> str:
    """Stable split of a proper-name token: about 10 % go to "test"."""
    return "test" if zlib.crc32(token.encode("utf-8")) % 10 == 0 else "train"


def _by_split(tokens: Iterable) -> dict[str, list]:
    """Tokens (or ``(article, token)`` pairs) grouped by the split of their proper name."""
    out: dict[str, list] = {"train": [], "test": []}
    for t in tokens:
        out[_split_of(t[1] if isinstance(t, tuple) else t)].append(t)
    return out


_VOCAB = {"first": _by_split(FIRST_NAMES.split()), "surname": _by_split(SURNAMES.split()),
          "town": _by_split(TOWNS.split()), "article_town": _by_split(ARTICLE_TOWNS), "saint": _by_split(SAINTS.split())}
_TYPES, _TYPE_WEIGHTS = list(STREET_TYPES), list(STREET_TYPES.values())


def proper_names(split: str) -> frozenset[str]:
    """Every proper-name token (first name, surname, town, saint) the given split may use, as in labels."""
    _check_split(split)
    return frozenset((t[1] if isinstance(t, tuple) else t).replace("-", HYPHEN)
                     for cat in _VOCAB.values() for t in cat[split])


def _check_split(split: str) -> None:
    """:class:`DataError` unless ``split`` is "train" or "test"."""
    if split not in ("train", "test"):
        raise DataError(f"synthetic split must be 'train' or 'test', got {split!r}")


def elide(particle: str, word: str) -> str:
    """``de`` + ``word`` with French elision: ``d‘Orbey``, ``de Lunel``, ``de l‘Église`` stays as given."""
    return f"d{APOS}{word}" if particle == "de" and word[:1].upper() in _VOWELS else f"{particle} {word}"


def _noun_phrase(rng: random.Random) -> str:
    """``du Moulin``, ``de la Gare``, ``de l‘Église``, ``des Lilas``."""
    gender = rng.choices("mfp", weights=(4, 4, 2))[0]
    noun = rng.choice(COMMON_NOUNS[gender].split()).replace("_", " ")
    if gender == "p":
        return f"des {noun}"
    if noun[0].upper() in _VOWELS:
        return f"de l{APOS}{noun}"
    return f"du {noun}" if gender == "m" else f"de la {noun}"


def _name_phrase(rng: random.Random, split: str) -> str:
    """The part after the street type: a person, a title, a town, a saint, a common noun or a date."""
    v = _VOCAB
    kind = rng.choices(("person", "surname", "title", "town", "saint", "noun", "date"),
                       weights=(24, 12, 6, 18, 7, 30, 3))[0]
    if kind == "person":
        return f"{rng.choice(v['first'][split])} {rng.choice(v['surname'][split])}"
    if kind == "surname":
        return rng.choice(v["surname"][split])
    if kind == "title":
        title = rng.choice(TITLES.split())
        head = f"de l{APOS}{title}" if title[0] in _VOWELS else f"du {title}"
        return f"{head} {rng.choice(v['surname'][split])}"
    if kind == "town":
        if rng.random() < 0.15 and v["article_town"][split]:
            art, town = rng.choice(v["article_town"][split])
            return {"le": f"du {town}", "la": f"de la {town}", "les": f"des {town}"}[art]
        return elide("de", rng.choice(v["town"][split]))
    if kind == "saint":
        return rng.choice(v["saint"][split])
    return f"du {rng.choice(DATES)}" if kind == "date" else _noun_phrase(rng)


def street_name(rng: random.Random, split: str = "train") -> str:
    """A French street name in FSNS's canonical label form (title case, ``‘`` and ``—``), at most 37 characters."""
    _check_split(split)
    while True:
        text = f"{rng.choices(_TYPES, weights=_TYPE_WEIGHTS)[0]} {_name_phrase(rng, split)}"
        if len(text) <= MAX_LEN:
            return text.replace("-", HYPHEN)


# ---------------------------------------------------------------------------------------------- rendering
@functools.lru_cache(maxsize=1)
def font_path() -> Path:
    """Path of DejaVu Sans Condensed Bold; :class:`DataError` naming the font package if it is not installed."""
    for p in FONT_CANDIDATES:
        if Path(p).is_file():
            return Path(p)
    raise DataError(f"font DejaVuSansCondensed-Bold.ttf not found (looked in {', '.join(FONT_CANDIDATES)}); "
                    f"install the {FONT_PACKAGE} package, e.g. `apt-get install {FONT_PACKAGE}`")


@functools.lru_cache(maxsize=64)
def load_font(size: int) -> ImageFont.FreeTypeFont:
    """The sign font at ``size`` pixels, cached per size."""
    return ImageFont.truetype(str(font_path()), size)


@functools.lru_cache(maxsize=8192)
def _has_glyph(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    def key(c: str) -> tuple:
        m = font.getmask(c)
        return m.size, bytes(m)
    return ch.isspace() or key(ch) != key("\U000FFFFD")  # a plane-15 private-use point renders as .notdef


def missing_glyphs(font: ImageFont.FreeTypeFont, text: str) -> list[str]:
    """Characters of ``text`` that ``font`` has no glyph for (they would render as the .notdef box)."""
    return list(dict.fromkeys(c for c in text if not _has_glyph(font, c)))


def _sign_lines(text: str, rng: random.Random) -> list[tuple[str, bool]]:
    """Split a label into 1-3 display lines ``(line, small)``; a particle may get its own smaller line."""
    words = text.split()
    head, rest, particle = words[0], words[1:], []
    while len(rest) > 1 and rest[0] in PARTICLES:
        particle.append(rest.pop(0))
    if not rest or (len(text) <= 14 and rng.random() < 0.35):
        return [(text, False)]
    lines, name = [(head, False)], " ".join(rest)
    if particle and rng.random() < 0.5:
        lines.append((" ".join(particle), True))
    elif particle:
        name = " ".join(particle + rest)
    names = name.split()
    if len(name) > 12 and len(names) > 1 and len(lines) < 3:
        cut = min(range(1, len(names)), key=lambda k: abs(len(" ".join(names[:k])) - len(name) / 2))
        return lines + [(" ".join(names[:cut]), False), (" ".join(names[cut:]), False)]
    return lines + [(name, False)]


def _display(line: str, small: bool, rng: random.Random) -> str:
    """How a line is painted: uppercase (small particle lines sometimes lowercase), plain ’ and -."""
    line = line.replace(APOS, "\u2019").replace(HYPHEN, "-")
    return line if small and rng.random() < 0.5 else line.upper()


def _plate_colours(rng: random.Random) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(plate, text/border) colours: mostly white on dark blue."""
    j = lambda c, d=12: tuple(max(0, min(255, v + rng.randint(-d, d))) for v in c)
    kind = rng.choices(("blue", "green", "dark", "red", "white"), weights=(70, 8, 8, 4, 10))[0]
    plate = {"blue": (25, 45, 125), "green": (25, 95, 55), "dark": (35, 35, 40), "red": (120, 30, 35),
             "white": (235, 235, 228)}[kind]
    ink = (25, 40, 110) if kind == "white" and rng.random() < 0.6 else (20, 20, 20) if kind == "white" else (245,) * 3
    return j(plate), j(ink, 8)


def _draw_plate(lines: list[tuple[str, bool]], rng: random.Random) -> Image.Image:
    """The sign face as RGBA: rounded plate, inset border, centred lines of text."""
    size = rng.randint(34, 44)
    fonts = [load_font(round(size * 0.62) if small else size) for _, small in lines]
    texts = [_display(t, small, rng) for t, small in lines]
    for f, t in zip(fonts, texts):
        if bad := missing_glyphs(f, t):
            raise DataError(f"cannot render {t!r}: font {font_path().name} has no glyph for {bad!r}")
    caps = [f.size * 0.73 for f in fonts]
    gap, pad = size * 0.32, size * 0.55
    w = max(f.getlength(t) for f, t in zip(fonts, texts)) + 2 * pad
    h = sum(caps) + gap * (len(lines) - 1) + 2 * pad
    w = max(w, 1.5 * h)
    plate, ink = _plate_colours(rng)
    img = Image.new("RGBA", (round(w), round(h)), plate + (0,))
    d = ImageDraw.Draw(img)
    r, inset, bw = size * 0.25, size * 0.18, max(2, round(size * 0.08))
    d.rounded_rectangle((0, 0, img.width - 1, img.height - 1), radius=r, fill=plate + (255,))
    d.rounded_rectangle((inset, inset, img.width - 1 - inset, img.height - 1 - inset), radius=r * 0.7,
                        outline=ink + (255,), width=bw)
    y = pad
    for f, t, cap in zip(fonts, texts, caps):
        y += cap
        d.text((img.width / 2, y), t, font=f, fill=ink + (255,), anchor="ms")
        y += gap
    return img


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Coefficients for ``Image.transform(PERSPECTIVE)`` mapping output points ``dst`` to input points ``src``."""
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
    return np.linalg.solve(np.array(a, float), np.array(src, float).reshape(8)).tolist()


def _warp(plate: Image.Image, rng: random.Random) -> tuple[Image.Image, tuple[int, int]]:
    """One view of the plate (RGBA) and where to paste it in the tile: scaled to 40-90 % of the tile width,
    rotated ±8°, with a mild yaw (one side shorter) and a random offset."""
    aspect = plate.width / plate.height  # keep the plate between 22 % and 80 % of the tile height
    tw = min(max(rng.uniform(0.4, 0.9) * TILE, min(0.22 * TILE * aspect, 0.95 * TILE)), 0.8 * TILE * aspect)
    small = plate.resize((max(8, round(tw)), max(4, round(tw * plate.height / plate.width))), Image.Resampling.BOX)
    w, h = small.size
    yaw, ang = rng.uniform(-0.12, 0.12), math.radians(rng.uniform(-8, 8))
    ca, sa = math.cos(ang), math.sin(ang)
    quad = [(-w / 2, -h / 2 * (1 + yaw)), (w / 2, -h / 2 * (1 - yaw)), (w / 2, h / 2 * (1 - yaw)),
            (-w / 2, h / 2 * (1 + yaw))]
    quad = [(x * ca - y * sa + rng.uniform(-1, 1), x * sa + y * ca + rng.uniform(-1, 1)) for x, y in quad]
    x0, y0 = min(p[0] for p in quad), min(p[1] for p in quad)
    bw, bh = math.ceil(max(p[0] for p in quad) - x0) + 1, math.ceil(max(p[1] for p in quad) - y0) + 1
    coeffs = _perspective_coeffs([(x - x0, y - y0) for x, y in quad], [(0, 0), (w, 0), (w, h), (0, h)])
    out = small.transform((bw, bh), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    return out, (rng.randint(0, max(0, TILE - bw)), rng.randint(0, max(0, TILE - bh)))


_BACKGROUNDS = ((150, 150, 148), (200, 185, 160), (175, 130, 110), (60, 85, 45), (110, 110, 115), (215, 210, 200))
# A fixed bank of gaussian noise (x16, int16); each sample adds a random crop of it (fast and deterministic).
_NOISE = np.clip(np.random.default_rng(20240601).standard_normal((2 * TILE, 2 * TILE * VIEWS, 3)) * 16,
                 -80, 80).astype(np.int16)


def _background(base: tuple[int, ...], rng: random.Random, nrng: np.random.Generator) -> Image.Image:
    """A TILE x TILE background: jittered base colour, linear gradient and low-frequency blotches."""
    g = rng.choice((3, 6, 12, 24))
    ramp = np.linspace(-1, 1, g)
    grad = rng.uniform(-25, 25) * ramp[None, :, None] + rng.uniform(-25, 25) * ramp[:, None, None]
    blot = nrng.normal(0, rng.uniform(5, 30), (g, g, 1)) * nrng.uniform(0.6, 1.2, 3)
    arr = np.add(base, nrng.normal(0, 8, 3)) + grad + blot
    small = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return small.resize((TILE, TILE), Image.Resampling.BILINEAR)


def _photometric(img: Image.Image, rng: random.Random) -> Image.Image:
    """Per-view contrast (around mid-grey), brightness and gaussian noise, in one int16 pass."""
    def per_view(lo: float, hi: float, q: int) -> np.ndarray:
        v = [round(rng.uniform(lo, hi) * q) for _ in range(VIEWS)]
        return np.repeat(np.array(v, np.int16), TILE)[None, :, None]
    c, b, s = per_view(0.6, 1.15, 64), per_view(-40, 30, 1), per_view(0, 9, 4)
    y, x = rng.randrange(TILE), rng.randrange(TILE * VIEWS)
    a = np.asarray(img, np.int16) - 128
    a *= c
    a += _NOISE[y:y + TILE, x:x + TILE * VIEWS] * s  # (16 N) * (4 sigma) = 64 N sigma
    a >>= 6
    a += 128 + b
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def render_sign(text: str, rng: random.Random) -> Image.Image:
    """A 600x150 RGB image of 4 views (150x150 each) of one sign reading ``text`` (shown uppercased)."""
    if not text.strip():
        raise DataError("cannot render an empty label")
    nrng = np.random.default_rng(rng.getrandbits(64))
    plate = _draw_plate(_sign_lines(text, rng), rng)
    if plate.width > 2 * TILE:  # pre-shrink once so the per-view resizes are cheap
        plate = plate.reduce(plate.width // TILE)
    base = rng.choice(_BACKGROUNDS)
    canvas = Image.new("RGB", (TILE * VIEWS, TILE))
    for k in range(VIEWS):
        view, (warped, at) = _background(base, rng, nrng), _warp(plate, rng)
        view.paste(warped, at, warped)
        if (radius := rng.uniform(0, 1.4)) > 0.3:
            view = view.filter(ImageFilter.BoxBlur(radius))
        canvas.paste(view, (k * TILE, 0))
    return _photometric(canvas, rng)


def _derived_seed(seed: int, index: int, split: str) -> int:
    """A stable 64-bit seed for one sample (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{split}:{index}".encode(), digest_size=8).digest(), "big")


def synth_sample(seed: int, index: int, split: str = "train") -> tuple[Image.Image, str]:
    """Sample ``index`` of the synthetic set ``(seed, split)``: ``(600x150 RGB image, label)``; a pure function."""
    _check_split(split)
    rng = random.Random(_derived_seed(seed, index, split))
    text = street_name(rng, split)
    return render_sign(text, rng), text
