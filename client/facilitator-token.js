// Facilitator tokens for the report and comparison pages. The console stores each
// workshop's token in localStorage under the same key, so a report opened from the
// console's browser needs no link.

export function tokenStorageKey(workshopId) {
  return `common-ground:facilitator:${workshopId}`;
}

export function storedToken(workshopId) {
  try {
    return localStorage.getItem(tokenStorageKey(workshopId));
  } catch {
    return null;
  }
}

export function storeToken(workshopId, token) {
  try {
    localStorage.setItem(tokenStorageKey(workshopId), token);
  } catch (error) {
    console.warn("Storing the facilitator token failed, so a reload will need the link again:", error);
  }
}

export function forgetToken(workshopId) {
  try {
    localStorage.removeItem(tokenStorageKey(workshopId));
  } catch (error) {
    console.warn("Removing the stored facilitator token failed:", error);
  }
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

/** Extracts a token from a facilitator link ("...#token=SECRET") or a bare token. */
export function parseToken(text) {
  const trimmed = text.trim();
  const hashIndex = trimmed.indexOf("#");
  if (hashIndex >= 0) {
    const token = new URLSearchParams(trimmed.slice(hashIndex + 1)).get("token");
    return token && TOKEN_PATTERN.test(token) ? token : null;
  }
  return TOKEN_PATTERN.test(trimmed) ? trimmed : null;
}

/**
 * Extracts the workshop id and token from a facilitator link
 * ("https://host/console/ID#token=SECRET"), or returns null.
 */
export function parseFacilitatorLink(text) {
  let url;
  try {
    url = new URL(text.trim(), location.origin);
  } catch {
    return null;
  }
  const match = /^\/(?:console|report)\/([^/]+)$/.exec(url.pathname);
  const token = url.hash ? parseToken(url.hash) : null;
  if (!match || !token) {
    return null;
  }
  return { workshopId: decodeURIComponent(match[1]), token };
}

/** Tells whether the address has a "#token=" fragment, whole or cut short. */
export function pageHasTokenFragment() {
  return new URLSearchParams(location.hash.slice(1)).has("token");
}

/**
 * Returns the token from the URL fragment (storing it) or from storage. The fragment
 * is then removed from the address bar, even when it is cut short, so that the secret
 * is not shown or printed. A fragment that is not a whole token is not stored.
 */
export function readPageToken(workshopId) {
  const fromHash = location.hash ? parseToken(location.hash) : null;
  if (pageHasTokenFragment()) {
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (fromHash) {
    storeToken(workshopId, fromHash);
    return fromHash;
  }
  return storedToken(workshopId);
}
