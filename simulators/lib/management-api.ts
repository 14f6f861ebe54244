// The management API (docs/api.md) as the processor-side tools use it: cards are made the way a
// partner makes them, never by writing Redis. A wallet (KYC SUCCESS), a balance in a program, a
// TOPUP, and a virtual or physical card whose PAN comes back as JWE, decrypted here with an RSA key
// this process generates; a PIN set with an encrypted request; locks, limits, customer
// transactional locks and partner balances. Used by the scheme simulator (simulators/scheme) and
// the demo (simulators/demo).
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';

/** The demo program (BIN 555770), which every switch has. */
export const DEMO_CONFIG_ID = '0019167984';

/** A card the simulator holds: its PAN stays in memory and is printed masked only. */
export interface ProvisionedCard {
  pan: string;
  /** Field 14, YYMM. */
  expiry: string;
  customerId: string;
  cardId: string;
  balanceId: string;
  /** The card's CVV2 as the card data API gave it at issuance (what is printed on the card): in memory only, never printed. */
  cvv2?: string;
}

/** A management API failure, with the call and the answer's problem title. */
export class ApiError extends Error {}

/** Where the tools find the management API: `ANTACA_URL`, else the switch's default address. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** The full data of a card, decrypted from the JWE answer: it stays in memory, and is shown masked unless asked for. */
export interface CardData {
  id: string; customerId: string; balanceId: string; configId: string; status: string; lastFourDigits: string;
  /** The balance's currency, alpha-3. */
  currency: string;
  pan: string; cvv: string;
  /** The last day of the expiry month, YYYY-MM-DD, as the API gives it. */
  exp: string;
  /** Field 14, YYMM. */
  expiry: string;
  /** The track-2 image of a physical card, only from a switch run with SANDBOX=1 (docs/cards.md). */
  track2?: string;
}

export class ManagementApi {
  private readonly keys: { publicKeyB64: string; privateKey: KeyObject };

  /**
   * `apiKey`: sent as `Authorization: Bearer` (a switch with API_KEYS_FILE needs one); default
   * the `ANTACA_API_KEY` environment variable.
   */
  constructor(private readonly baseUrl: string, private readonly apiKey: string | undefined = process.env.ANTACA_API_KEY || undefined) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.keys = { publicKeyB64: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64'), privateKey };
  }

  /** One call; answers the parsed JSON body and status, throws ApiError on a status outside `ok`. */
  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, ok: readonly number[] = [200, 201, 204]): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(this.apiKey === undefined ? {} : { authorization: `Bearer ${this.apiKey}` }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw new ApiError(`management API at ${this.baseUrl} unreachable: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try { json = text === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
    if (!ok.includes(res.status)) {
      const title = (json as { title?: string } | undefined)?.title ?? text.slice(0, 80);
      throw new ApiError(`${method} ${path.replace(/\d{13,19}/g, '<pan>')}: ${res.status} ${title}`);
    }
    return { status: res.status, json };
  }

  /** A customer with one EUR balance topped up with `topUpMinor` and one card on it (a physical one activated). */
  async newCard(label: string, topUpMinor: number, configId = DEMO_CONFIG_ID, kind: 'virtual' | 'physical' = 'virtual'): Promise<ProvisionedCard> {
    const customerId = await this.newCustomer('Scheme', label);
    const balanceId = await this.newBalance(customerId, configId);
    if (topUpMinor > 0) await this.topUp(customerId, balanceId, topUpMinor, 'scheme simulator');
    const card = await this.issueCard(customerId, balanceId, kind);
    if (kind === 'physical') await this.activate(card);
    return card;
  }

  /**
   * Set PIN (an encrypted request): the PIN as the JWE of {"pin"} to the switch's key
   * (GET /secure/encryption-key), RSA-OAEP-256 and A256GCM, with Encrypted-Request: true.
   */
  async setPin(card: ProvisionedCard, pin: string): Promise<void> {
    this.switchKey ??= createPublicKey(String((await this.call('GET', '/secure/encryption-key')).json.publicKey));
    const payload = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify({ pin }))).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' }).encrypt(this.switchKey);
    await this.call('POST', `/secure/customers/${card.customerId}/cards/${card.cardId}/pin`, { payload }, { 'Encrypted-Request': 'true' });
  }

  private switchKey: KeyObject | undefined;

  /** A wallet with KYC SUCCESS; answers its customer id. */
  async newCustomer(firstName: string, lastName: string): Promise<string> {
    const wallet = await this.call('POST', '/lifecycle/v1/wallet', {
      firstName: firstName.slice(0, 100), lastName: lastName.slice(0, 100), phone: '+48500100200', email: 'scheme-sim@example.com',
      birthDate: '1990-01-01', state: 'Mazowieckie', kyc: 'SUCCESS',
    });
    return String(wallet.json.id);
  }

  /** An EUR user balance of the customer in program `configId`; answers its id. */
  async newBalance(customerId: string, configId = DEMO_CONFIG_ID): Promise<string> {
    const balance = await this.call('POST', `/secure/customers/${customerId}/balances`, { currency: 'EUR', configId });
    return String(balance.json.id);
  }

  /** A TOPUP internal transaction (debits the program's CREDIT partner balance when it has one). */
  async topUp(customerId: string, balanceId: string, amountMinor: number, description: string): Promise<void> {
    await this.call('POST', `/secure/customers/${customerId}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: amountMinor, currency: 'EUR', description });
  }

  /**
   * A virtual card, or a physical one (INACTIVE until activated), on the balance; its PAN, expiry
   * and CVV2 decrypted from the JWE answer.
   */
  async issueCard(customerId: string, balanceId: string, kind: 'virtual' | 'physical'): Promise<ProvisionedCard> {
    const body = kind === 'virtual' ? { balanceId } : {
      balanceId, deliveryAddress: { name: 'Antaca Demo', line1: 'ul. Prosta 1', city: 'Warszawa', postalCode: '00-838', country: 'PL' },
    };
    const card = await this.call('POST', `/secure/customers/${customerId}/cards/${kind}`, body, {
      'Encrypt-Response': 'true', 'Public-Key': this.keys.publicKeyB64,
    });
    const plain = await compactDecrypt(String(card.json.payload), this.keys.privateKey);
    const full = JSON.parse(new TextDecoder().decode(plain.plaintext)) as { id: string; cardNo: string; exp: string; cvv?: string };
    return { pan: full.cardNo, expiry: full.exp.slice(2, 4) + full.exp.slice(5, 7), customerId, cardId: full.id, balanceId, ...(full.cvv === undefined ? {} : { cvv2: full.cvv }) };
  }

  /**
   * A card's full data by its id alone: its customer from `GET /secure/cards/{cardId}`, then the
   * full-data GET with Encrypt-Response and this process's public key, decrypted here.
   */
  async cardData(cardId: string): Promise<CardData> {
    const where = await this.call('GET', `/secure/cards/${encodeURIComponent(cardId)}`);
    const customerId = String(where.json.customerId);
    const r = await this.call('GET', `/secure/customers/${encodeURIComponent(customerId)}/cards/${encodeURIComponent(cardId)}`, undefined, {
      'Encrypt-Response': 'true', 'Public-Key': this.keys.publicKeyB64,
    });
    const plain = await compactDecrypt(String(r.json.payload), this.keys.privateKey);
    const full = JSON.parse(new TextDecoder().decode(plain.plaintext)) as { id: string; cardNo: string; cvv: string; exp: string; status: string; lastFourDigits: string; track2?: string };
    return {
      id: full.id, customerId, balanceId: String(where.json.balanceId), configId: String(where.json.configId), currency: String(where.json.currency), status: full.status,
      lastFourDigits: full.lastFourDigits, pan: full.cardNo, cvv: full.cvv, exp: full.exp, expiry: full.exp.slice(2, 4) + full.exp.slice(5, 7),
      ...(typeof full.track2 === 'string' ? { track2: full.track2 } : {}),
    };
  }

  async activate(card: ProvisionedCard): Promise<void> {
    await this.call('POST', `/secure/customers/${card.customerId}/cards/${card.cardId}/activate`, {});
  }

  /** Replaces the card's own limits (minor units; a field left out: no card-level limit). */
  async setLimits(card: ProvisionedCard, limits: { perTransaction?: number; dailyAmount?: number; dailyCount?: number; atmDailyAmount?: number }): Promise<void> {
    await this.call('PUT', `/secure/customers/${card.customerId}/cards/${card.cardId}/limits`, limits);
  }

  /**
   * Replaces the card's own spend controls (`PUT …/cards/{cardId}/controls`, docs/cards.md "Spend
   * controls"): `{id, mode: ENFORCED|SHADOW, type, values}` each; an empty list removes them.
   */
  async setControls(card: ProvisionedCard, controls: readonly unknown[]): Promise<void> {
    await this.call('PUT', `/secure/customers/${card.customerId}/cards/${card.cardId}/controls`, { controls });
  }

  /** The card's newest transaction records (`GET /secure/transactions?cardId=`), at most `limit` (1-100). */
  async transactions(cardId: string, limit = 100): Promise<Array<Record<string, unknown>>> {
    const r = await this.call('GET', `/secure/transactions?cardId=${encodeURIComponent(cardId)}&limit=${limit}`);
    return (r.json.items ?? []) as Array<Record<string, unknown>>;
  }

  /** A customer transactional lock: every debit of the customer declines AML_EXCEPTION while it is set. */
  async addTransactionalLock(customerId: string, reason: string): Promise<void> {
    await this.call('POST', `/secure/customers/${customerId}/transactional-locks`, { reason });
  }

  /** Available and blocked of a card's balance, as the API reports them. */
  async balance(card: ProvisionedCard): Promise<{ available: number; blocked: number }> {
    const r = await this.call('GET', `/secure/customers/${card.customerId}/balances/${card.balanceId}`);
    return { available: Number(r.json.available), blocked: Number(r.json.blocked) };
  }

  async lock(card: ProvisionedCard, reason: number): Promise<void> {
    await this.call('POST', `/secure/customers/${card.customerId}/cards/${card.cardId}/lock`, { reason });
  }

  async unlock(card: ProvisionedCard): Promise<void> {
    await this.call('POST', `/secure/customers/${card.customerId}/cards/${card.cardId}/unlock`, {});
  }

  /**
   * Reloads the demo program's DEPOSIT and CREDIT partner balances by `amountMinor` where they
   * exist (a fresh switch has neither, and the demo program needs neither): a deposit is debited
   * with every purchase and a credit balance with every top-up, so an empty one would decline.
   */
  async fundPartnerBalancesIfPresent(amountMinor: number): Promise<string[]> {
    const funded: string[] = [];
    for (const type of ['DEPOSIT', 'CREDIT']) {
      const id = `pb-${type}-EUR-${DEMO_CONFIG_ID}`;
      const got = await this.call('GET', `/secure/partner-balances/${id}`, undefined, {}, [200, 404]);
      if (got.status === 404) continue;
      await this.call('POST', `/secure/partner-balances/${id}/reload`, { amount: amountMinor });
      funded.push(type);
    }
    return funded;
  }

  /** Creates the program's partner balance of `type` in EUR, or finds the existing one; answers its id. */
  async ensurePartnerBalance(type: 'DEPOSIT' | 'CREDIT' | 'COMPANY', configId = DEMO_CONFIG_ID): Promise<string> {
    const r = await this.call('POST', '/secure/partner-balances', { type, currency: 'EUR', configId });
    return String(r.json.id);
  }

  /** Available minor units of a partner balance. */
  async partnerAvailable(id: string): Promise<number> {
    const r = await this.call('GET', `/secure/partner-balances/${id}`);
    return Number(r.json.available);
  }

  async reloadPartnerBalance(id: string, amountMinor: number): Promise<void> {
    await this.call('POST', `/secure/partner-balances/${id}/reload`, { amount: amountMinor });
  }
}
