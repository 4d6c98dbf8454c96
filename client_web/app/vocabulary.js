// Specialties and languages as one vocabulary: the practice's own terms
// (settings `specialties` and `languages`, from /api/info) and, as a
// fallback, whatever therapists typed. Terms that differ only in case,
// spacing or accents, or by a one-letter slip from a practice term
// ("english", "Englsh" for "English"), are the same term, so the directory's
// filters neither split one specialty into several nor miss a therapist.

// The form a term is compared in: accents removed, case folded, spaces tidied.
export function termKey(term) {
  return String(term)
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLocaleLowerCase("en")
    .replace(/\s+/g, " ")
    .trim();
}

// Optimal string alignment distance, stopping early above 1: only "equal" or
// "one edit apart" (a letter missing, added, changed or two swapped) matters.
function withinOneEdit(a, b) {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  const x = [...a];
  const y = [...b];
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i += 1;
  const rest = (p, q) => x.slice(p).join("") === y.slice(q).join("");
  return (
    rest(i + 1, i + 1) ||
    rest(i + 1, i) ||
    rest(i, i + 1) ||
    (x[i] === y[i + 1] && x[i + 1] === y[i] && rest(i + 2, i + 2))
  );
}

// Slips are forgiven only in words long enough that one letter cannot make
// another real term ("Thai" and "Tai" stay apart).
const MIN_LENGTH_FOR_SLIPS = 5;

// The practice's spelling of `term` if it is one of `vocabulary`, otherwise
// the term itself, tidied.
export function canonicalTerm(term, vocabulary = []) {
  const tidy = String(term).replace(/\s+/g, " ").trim();
  const key = termKey(tidy);
  if (!key) return "";
  for (const known of vocabulary) if (termKey(known) === key) return known;
  if ([...key].length >= MIN_LENGTH_FOR_SLIPS) {
    const near = vocabulary.filter((known) => withinOneEdit(termKey(known), key));
    if (near.length === 1) return near[0];
  }
  return tidy;
}

// The terms of a list, canonical and without repeats, in their order.
export function canonicalList(terms, vocabulary = []) {
  const seen = new Set();
  const found = [];
  for (const term of terms) {
    const canonical = canonicalTerm(term, vocabulary);
    const key = termKey(canonical);
    if (!key || seen.has(key)) continue;
    seen.add(key);
    found.push(canonical);
  }
  return found;
}

// The filter's options: the practice's terms first, in its order, then the
// other terms therapists use, alphabetically.
export function filterOptions(lists, vocabulary = []) {
  const known = new Set(vocabulary.map(termKey));
  const others = canonicalList(lists.flat(), vocabulary)
    .filter((term) => !known.has(termKey(term)))
    .sort((a, b) => a.localeCompare(b));
  return [...vocabulary, ...others];
}

// Whether a therapist's list holds the chosen option, however it was typed.
export function listHas(terms, option, vocabulary = []) {
  const wanted = termKey(option);
  return terms.some((term) => termKey(canonicalTerm(term, vocabulary)) === wanted);
}
