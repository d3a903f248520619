/**
 * Search query texts, built from the attributes a user wants and worded the way people type:
 * synonyms ("tee", "navy", "for men"), varying word order, some attributes left out, the
 * occasional typo. The words of a query are never simply the item's title.
 */
import type { TrueAttribute } from './catalog.js';
import type { Rng } from './rng.js';

const TYPE_WORDS: Record<string, string[]> = {
  Tshirts: ['t-shirt', 'tshirt', 'tee', 't shirts', 'tees', 'tshirts'],
  Shirts: ['shirt', 'shirts', 'button down shirt', 'button-up shirt'],
  'Casual Shoes': ['casual shoes', 'sneakers', 'shoes', 'everyday shoes'],
  'Sports Shoes': ['sports shoes', 'running shoes', 'trainers', 'sport shoes'],
  'Formal Shoes': ['formal shoes', 'office shoes', 'oxfords', 'leather shoes'],
  Tops: ['top', 'tops', 'blouse'],
  Kurtas: ['kurta', 'kurtas'],
  Kurtis: ['kurti', 'kurtis'],
  Watches: ['watch', 'wrist watch', 'watches', 'wristwatch'],
  Handbags: ['handbag', 'purse', 'hand bag', 'shoulder bag'],
  Heels: ['heels', 'high heels', 'pumps', 'heeled sandals'],
  Sunglasses: ['sunglasses', 'shades', 'sun glasses', 'goggles'],
  Sweaters: ['sweater', 'jumper', 'pullover'],
  Sandals: ['sandals', 'sandal', 'open shoes'],
  Wallets: ['wallet', 'wallets', 'billfold'],
  'Flip Flops': ['flip flops', 'slippers', 'flipflops', 'chappals'],
  Sweatshirts: ['sweatshirt', 'hoodie', 'sweat shirt'],
  Belts: ['belt', 'belts', 'leather belt'],
  Trousers: ['trousers', 'pants', 'chinos'],
  Jeans: ['jeans', 'denims', 'denim jeans'],
  Socks: ['socks', 'pair of socks'],
  Jackets: ['jacket', 'jackets', 'coat'],
  Flats: ['flats', 'ballerinas', 'flat shoes'],
  Backpacks: ['backpack', 'rucksack', 'school bag', 'back pack'],
  Briefs: ['briefs', 'underwear'],
  Shorts: ['shorts', 'half pants'],
  'Innerwear Vests': ['vest', 'inner vest', 'undershirt'],
  Caps: ['cap', 'baseball cap', 'caps'],
  'Track Pants': ['track pants', 'joggers', 'trackpants'],
  Ties: ['tie', 'necktie', 'ties'],
  Dresses: ['dress', 'dresses', 'frock'],
  Clutches: ['clutch', 'clutch bag', 'evening bag'],
  Skirts: ['skirt', 'skirts'],
  Scarves: ['scarf', 'scarves'],
  Mufflers: ['muffler', 'mufflers'],
};

const COLOUR_WORDS: Record<string, string[]> = {
  'Navy Blue': ['navy', 'navy blue', 'dark blue'],
  Grey: ['grey', 'gray'],
  'Off White': ['off white', 'off-white', 'ivory'],
  Multi: ['multicolour', 'multi colour', 'colourful', 'multicolor'],
  Charcoal: ['charcoal', 'dark grey'],
  Olive: ['olive', 'olive green'],
  Steel: ['steel', 'metal'],
  Silver: ['silver', 'silver-tone'],
  Gold: ['gold', 'golden'],
  Beige: ['beige', 'sand'],
  Black: ['black', 'black'],
  White: ['white', 'white'],
  'Grey Melange': ['grey melange', 'heather grey'],
  'Coffee Brown': ['coffee brown', 'dark brown'],
  'Turquoise Blue': ['turquoise', 'turquoise blue'],
};

const GENDER_WORDS: Record<string, { pre: string[]; post: string[] }> = {
  Men: { pre: ['men', 'mens', "men's", 'male'], post: ['for men', 'for him', 'men'] },
  Women: { pre: ['women', 'womens', "women's", 'ladies'], post: ['for women', 'for her', 'ladies'] },
  Unisex: { pre: ['unisex'], post: ['unisex', 'for everyone'] },
  Boys: { pre: ['boys', 'kids', "boy's"], post: ['for boys', 'for kids'] },
  Girls: { pre: ['girls', 'kids', "girl's"], post: ['for girls', 'for kids'] },
};

const USAGE_WORDS: Record<string, string[]> = {
  Casual: ['casual', 'everyday'],
  Formal: ['formal', 'office', 'work'],
  Sports: ['sports', 'gym', 'running', 'training'],
  Ethnic: ['ethnic', 'traditional'],
  'Smart Casual': ['smart casual'],
  Travel: ['travel'],
  Party: ['party'],
};

const SEASON_WORDS: Record<string, string[]> = { Summer: ['summer'], Winter: ['winter', 'warm'], Fall: ['fall', 'autumn'], Spring: ['spring'] };

const lower = (s: string) => s.toLowerCase();

/** Plain words of a value with no synonym list: lower case; sometimes the singular. */
function plain(value: string, rng: Rng): string {
  const w = lower(value);
  return rng.next() < 0.3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w;
}

function typo(word: string, rng: Rng): string {
  if (word.length < 5) return word;
  const i = 1 + rng.int(word.length - 2);
  return rng.next() < 0.5 ? word.slice(0, i) + word.slice(i + 1) : word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
}

/** A search query as typed, with the attributes its words name (typos included). */
export interface Query {
  text: string;
  names: TrueAttribute[];
}

/**
 * A query for the wanted attributes: the article type (almost always), often the colour and the
 * gender, sometimes the usage, the season or the brand; in one of several word orders.
 */
export function composeQuery(want: Record<TrueAttribute, string>, rng: Rng): Query {
  const type = TYPE_WORDS[want.articleType] ? rng.pick(TYPE_WORDS[want.articleType]) : plain(want.articleType, rng);
  const known = (v: string) => v !== 'Unknown';
  const colour = known(want.baseColour) && rng.next() < 0.75 ? (COLOUR_WORDS[want.baseColour] ? rng.pick(COLOUR_WORDS[want.baseColour]) : lower(want.baseColour)) : '';
  const genderWords = GENDER_WORDS[want.gender];
  const withGender = genderWords && rng.next() < 0.6;
  const usage = known(want.usage) && rng.next() < (want.usage === 'Casual' ? 0.15 : 0.45) ? rng.pick(USAGE_WORDS[want.usage] ?? [lower(want.usage)]) : '';
  const season = known(want.season) && rng.next() < 0.1 ? rng.pick(SEASON_WORDS[want.season] ?? [lower(want.season)]) : '';
  const brand = known(want.brand) && rng.next() < 0.12 ? lower(want.brand) : '';
  const style = rng.next();
  let words: string[];
  if (style < 0.55) {
    // "mens navy casual shirt"
    words = [brand, withGender ? rng.pick(genderWords.pre) : '', season, colour, usage, type];
  } else if (style < 0.85) {
    // "shirt navy for men", "tee in black for her"
    words = [brand, type, colour ? (rng.next() < 0.4 ? `in ${colour}` : colour) : '', usage, season, withGender ? rng.pick(genderWords.post) : ''];
  } else {
    words = rng.shuffle([brand, withGender ? rng.pick(genderWords.pre) : '', colour, usage, season, type]);
  }
  let text = words.filter(Boolean).join(' ');
  if (rng.next() < 0.04) text = text.split(' ').map((w) => (rng.next() < 0.3 ? typo(w, rng) : w)).join(' ');
  const named: [TrueAttribute, unknown][] = [['articleType', type], ['baseColour', colour], ['gender', withGender], ['usage', usage], ['season', season], ['brand', brand]];
  return { text: text.replace(/\s+/g, ' ').trim(), names: named.filter(([, w]) => w).map(([a]) => a) };
}
