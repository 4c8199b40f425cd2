// The apps page: the recipes this gateway ships (GET /api/v1/apps), and the
// apps deployed from them, each a slice whose signed spec holds its recipe.
// A user signed in with their key deploys one as `hearth app deploy NAME
// --gateways K` does: the whole recipe is read, checked and sized here by
// the gateway's own model (src/model/app.ts, src/model/slice.ts), signed in
// the page as a slice.create document and sent to this gateway, which
// places it; the list then follows its slivers until they run. Removing
// signs a slice.delete. The owner sees every app but signs nothing.

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorMessage, type Api } from '../api';
import { ConfirmRemove } from './confirm-remove';
import type { Credential } from '../credential';
import { signDocument, type UserKey } from '../signing';
import { deleteSlice } from './slice-form';
import { loadDraft, saveDraft } from '../session';
import type { RecipeSummary } from '../types';
import { HearthError } from '../../../src/model/errors.js';
import { deploySize, validateRecipe } from '../../../src/model/app.js';
import { SLICE_KINDS, parseSliceSpec, type SliceView } from '../../../src/model/slice.js';

/** Apps change on other gateways without an event here: re-read this often (a deploy's progress). */
const REREAD_MS = 3000;

interface DeployDraft { recipe: string; name: string; gateways: string }
type Key = keyof DeployDraft;
const DRAFT = 'app';
const LABELS: Record<Key, string> = { recipe: 'App', name: 'App name (its slice)', gateways: 'Gateways' };
type Problem = { field: Key | undefined; message: string };

/** The spec `hearth app deploy` signs for the draft, or the draft's field that is wrong and why. */
function specOf(d: DeployDraft, recipe: unknown): { spec: Record<string, unknown> } | { problem: Problem } {
  const fieldOf = (f: unknown): Key | undefined => (f === 'name' ? 'name' : f === 'slivers' || f === 'roles' ? 'gateways' : undefined);
  try {
    const app = validateRecipe(recipe);
    const asked = d.gateways.trim();
    const gateways = Number(asked);
    if (asked === '' || !Number.isInteger(gateways) || gateways < 1) return { problem: { field: 'gateways', message: 'gateways must be a whole number of at least 1' } };
    const spec = { name: d.name.trim(), slivers: deploySize(app, gateways), app, sshKeys: [] };
    parseSliceSpec(spec);
    return { spec };
  } catch (err) {
    if (!(err instanceof HearthError)) throw err;
    return { problem: { field: fieldOf(err.extra['field']), message: err.message } };
  }
}

/** The draft's field an API problem concerns: a name taken, or a placement the community could not make. */
function fieldOfApi(err: unknown): Key | undefined {
  if (!(err instanceof ApiError)) return undefined;
  if (err.field === 'name' || err.code === 'slice_exists') return 'name';
  if (err.field === 'slivers' || err.code === 'no_placement') return 'gateways';
  return undefined;
}

function DeployApp({ api, userKey, recipes, onDeployed }: { api: Api; userKey: UserKey; recipes: RecipeSummary[]; onDeployed: () => void }): JSX.Element {
  const first = recipes[0];
  const fresh = (r: RecipeSummary | undefined): DeployDraft => ({ recipe: r?.name ?? '', name: r?.name ?? '', gateways: String(r?.slivers ?? 1) });
  const [draft, setDraft] = useState(() => loadDraft(DRAFT, fresh(first)));
  const [recipe, setRecipe] = useState<{ name: string; body: unknown } | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');

  // The whole recipe, to check the draft against as it is typed (the list has only a summary).
  useEffect(() => {
    let gone = false;
    if (draft.recipe === '' || recipe?.name === draft.recipe) return undefined;
    api.get<unknown>(`/api/v1/apps/${encodeURIComponent(draft.recipe)}`).then(
      (body) => !gone && setRecipe({ name: draft.recipe, body }),
      (err: unknown) => !gone && setProblem({ field: 'recipe', message: errorMessage(err) }),
    );
    return () => {
      gone = true;
    };
  }, [api, draft.recipe]);

  const set = (next: DeployDraft): void => {
    setDraft(next);
    saveDraft(DRAFT, next);
    setDone('');
    const whole = recipe?.name === next.recipe ? recipe.body : undefined;
    const checked = whole === undefined ? undefined : specOf(next, whole);
    setProblem(checked !== undefined && 'problem' in checked ? checked.problem : undefined);
  };
  const pick = (name: string): void => {
    const r = recipes.find((x) => x.name === name);
    // A name typed by hand is kept; the recipe's own name and size follow the choice.
    set({ recipe: name, name: draft.name === draft.recipe ? name : draft.name, gateways: String(r?.slivers ?? draft.gateways) });
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setDone('');
    setProblem(undefined);
    try {
      // Chosen a moment ago, the recipe may still be on its way: read it here then.
      const body = recipe?.name === draft.recipe ? recipe.body : await api.get<unknown>(`/api/v1/apps/${encodeURIComponent(draft.recipe)}`);
      const checked = specOf(draft, body);
      if ('problem' in checked) return setProblem(checked.problem);
      const document = await signDocument(userKey, SLICE_KINDS.create, checked.spec);
      const view = await api.send<SliceView>('POST', '/api/v1/slices', { document });
      setDone(`App ${draft.recipe} placed as ${view.name} on ${[...new Set(view.slivers.map((s) => s.gateway ?? '?'))].join(', ')}; `
        + 'its slivers are starting (the first deploy on a machine builds the app\'s image: minutes). Follow it below.');
      saveDraft(DRAFT, null);
      setDraft(fresh(first));
      onDeployed();
    } catch (err) {
      setProblem({ field: fieldOfApi(err), message: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const errorOf = (key: Key): string | undefined => (problem?.field === key ? problem.message : undefined);
  const field = (key: Key, control: JSX.Element, help?: string): JSX.Element => (
    <div class="field">
      <label for={`app-${key}`}>{LABELS[key]}</label>
      {control}
      {help !== undefined && <p id={`app-${key}-help`} class="help">{help}</p>}
      <p id={`app-${key}-error`} class="error">{errorOf(key)}</p>
    </div>
  );
  const described = (key: Key, help: boolean): string => `app-${key}-error${help ? ` app-${key}-help` : ''}`;
  const chosen = recipes.find((r) => r.name === draft.recipe);

  return (
    <form class="create" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="app-deploy-title" aria-busy={busy}>
      <h2 id="app-deploy-title">Deploy an app</h2>
      <div class="fields">
        {field('recipe', (
          <select id="app-recipe" name="recipe" value={draft.recipe} aria-invalid={errorOf('recipe') !== undefined} aria-describedby={described('recipe', false)}
            onChange={(e) => pick(e.currentTarget.value)}>
            {recipes.map((r) => <option key={r.name} value={r.name}>{r.name}</option>)}
          </select>
        ))}
        {field('name', (
          <input id="app-name" name="name" value={draft.name} autocomplete="off" aria-invalid={errorOf('name') !== undefined} aria-describedby={described('name', false)}
            onInput={(e) => set({ ...draft, name: e.currentTarget.value })} />
        ))}
        {field('gateways', (
          <input id="app-gateways" name="gateways" value={draft.gateways} inputmode="numeric" autocomplete="off" aria-invalid={errorOf('gateways') !== undefined}
            aria-describedby={described('gateways', true)} onInput={(e) => set({ ...draft, gateways: e.currentTarget.value })} />
        ), `at least ${chosen?.slivers ?? 1}: one sliver a gateway`)}
      </div>
      <button type="submit" disabled={busy}>{busy ? 'Signing and placing…' : 'Deploy'}</button>
      <p class="error" role={problem !== undefined && problem.field === undefined ? 'alert' : undefined}>{problem?.field === undefined ? problem?.message : ''}</p>
      <p class="status-line" role="status" aria-live="polite">{done}</p>
    </form>
  );
}

function RemoveApp({ api, userKey, name, onRemoved }: { api: Api; userKey: UserKey; name: string; onRemoved: () => void }): JSX.Element {
  return (
    <ConfirmRemove ask={`Remove ${name}`} confirmLabel={`Confirm removing app ${name}`} confirm={`Remove ${name} and all its slivers`}
      run={async () => {
        await deleteSlice(api, userKey, name);
        onRemoved();
      }} />
  );
}

function DeployedApps({ apps, api, credential, onChange }: { apps: SliceView[]; api: Api; credential: Credential; onChange: () => void }): JSX.Element {
  if (apps.length === 0) return <p class="empty">{credential.kind === 'user' ? 'You have deployed no app yet.' : 'No app is deployed in the community yet.'}</p>;
  return (
    <div class="scroll" role="region" aria-label="Deployed apps" tabIndex={0}>
      <table>
        <thead><tr><th scope="col">Name</th><th scope="col">App</th><th scope="col">State</th><th scope="col">Slivers running</th><th scope="col">Gateways</th>{credential.kind === 'user' && <th scope="col">Actions</th>}</tr></thead>
        <tbody>
          {apps.map((s) => (
            <tr key={`${s.user}/${s.name}`}>
              <th scope="row">{s.name}</th>
              <td>{s.spec.app?.name}</td>
              <td><span class={`badge state-${s.state}`}>{s.state}</span></td>
              <td>{s.slivers.filter((x) => x.observed === 'running').length} of {s.spec.slivers}</td>
              <td>{[...new Set(s.slivers.map((x) => x.gateway ?? '—'))].join(', ')}</td>
              {credential.kind === 'user' && <td class="actions"><RemoveApp api={api} userKey={credential.key} name={s.name} onRemoved={onChange} /></td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AppsPage({ api, credential }: { api: Api; credential: Credential }): JSX.Element {
  const [recipes, setRecipes] = useState<RecipeSummary[] | undefined>();
  const [apps, setApps] = useState<SliceView[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [reads, setReads] = useState(0);
  const reread = (): void => setReads((n) => n + 1);
  const failed = (err: unknown): void => setError(errorMessage(err));

  useEffect(() => {
    let gone = false;
    api.get<{ items: RecipeSummary[] }>('/api/v1/apps').then((r) => !gone && setRecipes(r.items), (err: unknown) => !gone && failed(err));
    return () => {
      gone = true;
    };
  }, [api]);

  useEffect(() => {
    let gone = false;
    const read = (): void => {
      api.get<{ items: SliceView[] }>('/api/v1/slices').then(
        (r) => !gone && setApps(r.items.filter((s) => s.spec.app !== null)),
        (err: unknown) => !gone && failed(err),
      );
    };
    read();
    const timer = setInterval(read, REREAD_MS);
    return () => {
      gone = true;
      clearInterval(timer);
    };
  }, [api, reads]);

  return (
    <section aria-busy={recipes === undefined || apps === undefined}>
      <h1>Apps</h1>
      {error !== undefined && <p class="error" role="alert">{error}</p>}
      <h2>{credential.kind === 'user' ? 'Your apps' : 'Deployed apps'}</h2>
      {apps === undefined ? <p>Gathering the apps from their gateways…</p> : <DeployedApps apps={apps} api={api} credential={credential} onChange={reread} />}
      {credential.kind === 'user' && recipes !== undefined && recipes.length > 0 && (
        <DeployApp api={api} userKey={credential.key} recipes={recipes} onDeployed={reread} />
      )}
      {credential.kind === 'owner' && (
        <p class="note">Deploying an app is signed by a user's key, not the owner token: sign out and sign in with your user key
          (<code>hearth user keygen</code> makes one), or run <code>hearth app deploy NAME --gateways K</code>.</p>
      )}
      <h2>Recipes this gateway ships</h2>
      {recipes === undefined && <p>Loading the recipes…</p>}
      {recipes?.length === 0 && <p class="empty">This gateway ships no recipe.</p>}
      <ul class="cards">
        {recipes?.map((r) => (
          <li key={r.name} class="card">
            <strong>{r.name}</strong>
            <span>{r.description}</span>
            <span>{r.slivers} slivers: {r.roles.map((x) => `${x.name} ×${x.slivers}${x.scalable ? ' (grows with the gateways)' : ''}`).join(', ')}</span>
            <span>Services: {r.roles.flatMap((x) => x.services).join(', ')}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
