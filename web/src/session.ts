// What survives a reload or an expired sign-in, in sessionStorage: the owner
// token and the drafts of forms, so a user sent back to sign in loses nothing
// they typed.

const TOKEN_KEY = 'hearth.token';
const DRAFT_PREFIX = 'hearth.draft.';

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

export function loadDraft<T extends object>(form: string, fallback: T): T {
  const text = sessionStorage.getItem(DRAFT_PREFIX + form);
  if (text === null) return fallback;
  try {
    return { ...fallback, ...(JSON.parse(text) as Partial<T>) };
  } catch {
    return fallback;
  }
}

export function saveDraft(form: string, draft: object | null): void {
  if (draft === null) sessionStorage.removeItem(DRAFT_PREFIX + form);
  else sessionStorage.setItem(DRAFT_PREFIX + form, JSON.stringify(draft));
}
