"""Word lists of the synthetic street-name generator: curated French street vocabulary plus Faker's ``fr_FR`` data.

Faker is read once, at import, from its locale provider *data* (``first_names``, ``last_names``, ``regions``,
``departments``); it is never called per sample. Every list is deduplicated and sorted, so the vocabulary does not
depend on the order Faker stores it in. Proper names (first names, surnames, towns, regions, saints) go to the
``train`` or ``test`` split by a stable hash of the token (about 10 % to ``test``); street types, particles,
titles, adjectives and common nouns are shared. Tokens keep plain ``'`` and ``-`` here; labels use FSNS's ``‘`` and
``—`` (see :mod:`seqocr.data.synth`).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable

from faker.providers.address import fr_FR as _faker_address
from faker.providers.person import fr_FR as _faker_person

from ..charset import Charset

# Street types with relative weights (FSNS is dominated by "Rue").
STREET_TYPES = {
    "Rue": 45, "Avenue": 10, "Boulevard": 6, "Place": 7, "Impasse": 6, "Allée": 5, "Chemin": 6, "Route": 4,
    "Quai": 2, "Square": 1.5, "Cours": 1, "Passage": 2, "Rond-Point": 1, "Sentier": 1, "Villa": 1, "Cité": 1,
    "Résidence": 1, "Esplanade": 0.5, "Parvis": 0.5, "Promenade": 0.5, "Ruelle": 0.5, "Venelle": 0.3,
}
# Whole names built from an adjective, shared by both splits ("Grande Rue", "Rue Haute").
ADJECTIVE_STREETS = (
    "Grande Rue", "Rue Haute", "Rue Basse", "Rue Neuve", "Rue Principale", "Rue Nationale", "Rue Centrale",
    "Rue Verte", "Chemin Vert", "Rue Longue", "Rue Droite", "Rue Traversière", "Route Nationale", "Grand-Rue",
    "Rue Vieille", "Chemin Creux", "Rue Étroite", "Petite Rue", "Rue Blanche", "Chemin Rural")
TITLES = "Général Docteur Maréchal Président Professeur Commandant Capitaine Colonel Lieutenant Abbé Amiral Chanoine"
DATES = ("8 Mai 1945", "11 Novembre 1918", "14 Juillet", "19 Mars 1962", "4 Septembre", "18 Juin 1940", "1er Mai",
         "8 Mai", "11 Novembre", "14 Juillet 1789", "19 Mars", "25 Août 1944", "2 Décembre")
# Common nouns, shared by both splits: m = masculine, f = feminine, p = plural; "_" joins multi-word nouns.
COMMON_NOUNS = {
    "m": "Moulin Château Marché Port Pont Parc Stade Lavoir Cimetière Calvaire Presbytère Bois Four Puits Canal "
         "Collège Lycée Hôpital Abreuvoir Étang Ruisseau Pré Val Mont Clos Verger Chêne Théâtre Musée Jardin "
         "Commerce Hôtel_de_Ville Avenir Oratoire Viaduc Gué Champ Coteau Vallon Plateau Bourg Manoir Prieuré",
    "f": "Gare Mairie Poste Église École Forge Chapelle Croix Paix Liberté République Libération Résistance "
         "Victoire Plage Source Tour Prairie Colline Forêt Tuilerie Briqueterie Abbaye Usine Ancienne_Poste "
         "Fontaine Halle Grange Ferme Croix_Blanche Vallée Côte Montagne Rivière Carrière Ferronnerie",
    "p": "Lilas Roses Tilleuls Acacias Peupliers Platanes Marronniers Violettes Mimosas Jardins Vignes Prés Écoles "
         "Alpes Pyrénées Vosges Ardennes Fusillés Déportés Martyrs Jonquilles Glycines Hirondelles Chênes Sources "
         "Tanneurs Bouchers Tisserands Meuniers Carrières Écoliers Cerisiers Noyers Saules Bleuets Fleurs Pins "
         "Ormes Charmes Bouleaux Genêts Bruyères Vergers Fours Granges Moissons Aubépines Camélias",
}
# Curated proper names: split into train/test per token by a stable hash (see split_of).
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
VOWELS = frozenset("AEIOUYHÂÀÉÈÊËÎÏÔÛÙÜŒ")
# Words of the eight real FSNS sample images (../shared/fsns-sample): kept out of every vocabulary, so that those
# images stay a clean check of reading real signs.
EXCLUDED = frozenset({"Lunel", "Provence", "Maria", "Gounod", "Aurore", "Beuzeville", "Orbey", "Schoelcher",
                      "Coquebourg"})


def split_of(token: str) -> str:
    """Stable split of a proper-name token: about 10 % go to "test"."""
    return "test" if zlib.crc32(token.encode("utf-8")) % 10 == 0 else "train"


def _usable(token: str, fsns: Charset) -> bool:
    """A single capitalised word (hyphens allowed) the FSNS charset can encode, not from a real sample."""
    parts = token.replace("'", "-").split("-")
    return (bool(token) and " " not in token and token[0].isupper() and not fsns.missing(token)
            and not EXCLUDED.intersection(parts))


def _shared_words() -> frozenset[str]:
    """Words of the vocabulary both splits use; a proper name spelt like one (``Fontaine``) is dropped."""
    text = " ".join([*STREET_TYPES, *ADJECTIVE_STREETS, TITLES, *DATES, *COMMON_NOUNS.values()])
    return frozenset(text.replace("_", " ").split())


def _clean(tokens: Iterable[str]) -> list[str]:
    """Usable tokens, deduplicated and sorted (independent of the source's order)."""
    fsns, shared = Charset.fsns(), _shared_words()
    return sorted({t.strip() for t in tokens if _usable(t.strip(), fsns) and t.strip() not in shared})


def _faker_lists() -> dict[str, list[str]]:
    """Faker fr_FR provider data (read, not called): first names, surnames, regions and departments."""
    person, address = _faker_person.Provider, _faker_address.Provider
    departments = [d[1] if isinstance(d, tuple) else d for d in getattr(address, "departments", ())]
    return {"first_m": _clean(getattr(person, "first_names_male", ())),
            "first_f": _clean(getattr(person, "first_names_female", ())),
            "surname": _clean(getattr(person, "last_names", ())),
            "region": _clean([*getattr(address, "regions", ()), *departments])}


FAKER = _faker_lists()


def _by_split(tokens: Iterable) -> dict[str, list]:
    """Tokens (or ``(article, token)`` pairs) grouped by the split of their proper name."""
    out: dict[str, list] = {"train": [], "test": []}
    for t in tokens:
        out[split_of(t[1] if isinstance(t, tuple) else t)].append(t)
    return out


def _saints() -> list[str]:
    """Curated saints plus ``Saint-<first name>`` / ``Sainte-<first name>`` from Faker's first names."""
    made = [f"Saint-{n}" for n in FAKER["first_m"] if "-" not in n]
    made += [f"Sainte-{n}" for n in FAKER["first_f"] if "-" not in n]
    return _clean([*SAINTS.split(), *made])


# The vocabulary by category and split. "region" names take an article by a rule (see synth.names._region_phrase).
VOCAB = {
    "first": _by_split(_clean([*FIRST_NAMES.split(), *FAKER["first_m"], *FAKER["first_f"]])),
    "surname": _by_split(_clean([*SURNAMES.split(), *FAKER["surname"]])),
    "town": _by_split(_clean(TOWNS.split())),
    "region": _by_split([t for t in FAKER["region"] if t not in set(TOWNS.split())]),
    "article_town": _by_split(t for t in ARTICLE_TOWNS if t[1] not in EXCLUDED),
    "saint": _by_split(_saints()),
}
CURATED = frozenset([*FIRST_NAMES.split(), *SURNAMES.split(), *TOWNS.split(), *SAINTS.split()])


def vocab_fingerprint() -> str:
    """A short hash of the whole vocabulary: it changes if a Faker upgrade changes its word lists (and with them
    which sample ``i`` is); compare it across machines when sample-level reproducibility matters."""
    text = repr(sorted((k, s, tuple(v)) for k, d in VOCAB.items() for s, v in d.items()))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
