/* synth_plan.c -- synth_config_default and synth_plan: what a synthetic clip
 * says, as a pure function of (config, seed, index).
 *
 * No FFmpeg here: the coordinator links this to write the manifest without
 * decoding or encoding anything.  Every string comes from the tables below,
 * none contains a double quote or a newline, and every write is bounded by
 * snprintf into the clip's fixed buffers. */
#include "spec/synth.h"
#include "common/rng.h"

#include <stdio.h>
#include <string.h>

/* Why a modality's cue is what it is; decides the wording of `think`. */
typedef enum { CUE_DOMINANT, CUE_AGREE, CUE_WEAK, CUE_NEUTRAL, CUE_MISLEADING } cue_kind;

/* Strength bands for wording: faint (< 0.35), moderate (< 0.7), strong. */
enum { BAND_FAINT, BAND_MODERATE, BAND_STRONG, BAND_COUNT };
enum { SUBTITLE_VARIANTS = 3, BLAND_VARIANTS = 6 };

void synth_config_default(synth_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dominant_weight[MOD_VISUAL] = 0.34;
    cfg->dominant_weight[MOD_AUDIO] = 0.33;
    cfg->dominant_weight[MOD_TEXT] = 0.33;
    cfg->p_misleading = 0.5;
    cfg->p_neutral = 0.2;
    cfg->p_weak = 0.2;
    cfg->dominant_strength_min = 0.7;
    cfg->dominant_strength_max = 1.0;
    cfg->drift = 0.75;
    cfg->width = 64;
    cfg->height = 64;
    cfg->fps = 10;
    cfg->seconds = 2.0;
    cfg->sample_rate = 16000;
}

/* ---- wording tables, indexed by emotion (common/emotion.h order) ---- */

/* How a person feeling it is described: "sounds sad", "looks afraid". */
static const char *const emotion_adjective[EMOTION_COUNT] = {
    "happy", "sad", "neutral", "angry", "surprised", "disgusted", "afraid",
};

static const char *const bland_subtitle[BLAND_VARIANTS] = {
    "I went to the store today.",       "The meeting starts at nine.",
    "Please pass me the salt.",         "The train leaves from platform two.",
    "I put the keys on the table.",     "We need to buy more paper.",
};

static const char *const subtitle_table[EMOTION_COUNT][BAND_COUNT][SUBTITLE_VARIANTS] = {
    [EMO_HAPPY] = {
        {"The weather turned out nice today.", "We got the package this morning.",
         "Dinner was pretty good, I think."},
        {"That was a nice surprise, thank you.", "I am glad you could make it.",
         "This turned out better than I hoped."},
        {"I can't believe it, this is the best day ever!", "We won, we actually won!",
         "I'm so happy I could dance right now!"},
    },
    [EMO_SAD] = {
        {"I guess the meeting is over now.", "The house is quiet these days.",
         "It rained again all afternoon."},
        {"I miss how things used to be.", "It's hard to say goodbye.",
         "Nobody called me back today."},
        {"I lost him, and I don't know how to go on.", "Everything I cared about is gone.",
         "I can't stop crying, it hurts so much."},
    },
    [EMO_ANGRY] = {
        {"You could have told me earlier.", "That's the third time this week.",
         "Please put it back where it was."},
        {"I'm tired of cleaning up your mess.", "Why do you never listen to me?",
         "This is not what we agreed on."},
        {"Get out of my sight, right now!", "How dare you lie to my face!",
         "I've had enough of this, I'm furious!"},
    },
    [EMO_SURPRISE] = {
        {"Oh, the shop opened early today.", "I didn't expect the bus so soon.",
         "Huh, the door was already open."},
        {"Wait, you're here already?", "I had no idea you could sing.",
         "Really? They sold the house?"},
        {"What? No way, that can't be real!", "Oh my god, you did all this for me?",
         "Wow, I never saw that coming!"},
    },
    [EMO_DISGUST] = {
        {"The milk smells a bit off.", "I'd rather not eat that.",
         "The kitchen could use a cleaning."},
        {"Ugh, there's hair in my soup.", "That bathroom was really filthy.",
         "I can't stand the way he chews."},
        {"That's revolting, get it away from me!", "Gross, it's crawling with maggots!",
         "That is the most disgusting thing I've ever seen."},
    },
    [EMO_FEAR] = {
        {"Did you hear that noise outside?", "I'm not sure we should go in there.",
         "It's getting dark rather fast."},
        {"I think someone is following us.", "Please don't leave me here alone.",
         "My hands won't stop shaking."},
        {"Run, he's coming, he's right behind us!", "Help me, please, I don't want to die!",
         "Something is in the house, I'm terrified!"},
    },
};

static const char *const visual_clue[EMOTION_COUNT][BAND_COUNT] = {
    [EMO_HAPPY] = {"The corners of the mouth lift very slightly.",
                   "The mouth curves into a gentle smile.",
                   "The mouth turns up in a broad smile and the eyes narrow with it."},
    [EMO_SAD] = {"The mouth droops a little at the corners.",
                 "The corners of the mouth turn down and the inner brows rise.",
                 "The mouth turns sharply down, the inner brows are raised and the eyes are heavy."},
    [EMO_NEUTRAL] = {"The face is relaxed, with level brows and a flat mouth.",
                     "The face is still, with level brows and a flat mouth.",
                     "The face is blank, with level brows, steady eyes and a flat mouth."},
    [EMO_ANGRY] = {"The brows are drawn slightly together.",
                   "The brows are pulled down and in, and the lips are pressed.",
                   "The brows are lowered hard into a frown, the eyes narrow and the mouth is tight."},
    [EMO_SURPRISE] = {"The brows lift a little and the eyes open slightly.",
                      "The brows are raised, the eyes widen and the mouth opens.",
                      "The brows shoot up, the eyes are wide open and the mouth drops open."},
    [EMO_DISGUST] = {"One corner of the mouth twitches up a little.",
                     "The mouth is pulled to one side and the eyes narrow.",
                     "The mouth twists sharply to one side, the eyes squint and the brows lower."},
    [EMO_FEAR] = {"The eyes open a little wider than usual.",
                  "The eyes widen, the brows rise and the mouth stretches slightly open.",
                  "The eyes are wide, the brows are raised and the mouth is stretched open."},
};

static const char *const audio_clue[EMOTION_COUNT][BAND_COUNT] = {
    [EMO_HAPPY] = {"The voice is a little brighter than usual.",
                   "The voice is high and lively, with a varied pitch.",
                   "The voice is high, fast and bouncy, with a wide pitch range."},
    [EMO_SAD] = {"The voice is slightly low and slow.",
                 "The voice is low and slow, with little energy.",
                 "The voice is very low, slow and quiet, with an almost flat pitch."},
    [EMO_NEUTRAL] = {"The voice is even, at a middle pitch and a steady pace.",
                     "The voice is calm and level, at a middle pitch and a steady pace.",
                     "The voice is flat and measured, at a middle pitch and a steady pace."},
    [EMO_ANGRY] = {"The voice is a little louder and sharper than usual.",
                   "The voice is loud and fast, with a hard edge.",
                   "The voice is very loud, fast and harsh, almost shouting."},
    [EMO_SURPRISE] = {"The pitch rises a little toward the end.",
                      "The pitch rises sharply and the voice is raised.",
                      "The voice jumps up in pitch, rising steeply through the phrase."},
    [EMO_DISGUST] = {"The voice is slightly low and drawn out.",
                     "The voice is low, slow and creaky.",
                     "The voice is low, slow and strongly creaky, dragging each syllable."},
    [EMO_FEAR] = {"The voice wavers slightly.",
                  "The voice is high and trembling.",
                  "The voice is high, fast and shaking with a strong tremor."},
};

/* What each modality is called in `think`, and the verb for how it comes across. */
static const char *const modality_noun[MODALITY_COUNT] = {"face", "voice", "subtitle"};
static const char *const modality_verb[MODALITY_COUNT] = {"looks", "sounds", "reads"};

static int strength_band(double s)
{
    return s < 0.35 ? BAND_FAINT : s < 0.7 ? BAND_MODERATE : BAND_STRONG;
}

/* The dominant modality, drawn with probability proportional to its weight
 * (negative weights count as 0; all zero means uniform). */
static int pick_dominant(const synth_config *cfg, double u)
{
    double w[MODALITY_COUNT], total = 0.0;
    for (int m = 0; m < MODALITY_COUNT; m++) {
        w[m] = cfg->dominant_weight[m] > 0 ? cfg->dominant_weight[m] : 0.0;
        total += w[m];
    }
    if (!(total > 0))
        return (int)(u * MODALITY_COUNT);
    double x = u * total;
    for (int m = 0; m < MODALITY_COUNT - 1; m++) {
        if (x < w[m])
            return m;
        x -= w[m];
    }
    return MODALITY_COUNT - 1;
}

/* Another emotion than the label, and not neutral (a neutral cue is its own
 * case), chosen by u in [0, 1). */
static int other_emotion(int label, double u)
{
    int choices[EMOTION_COUNT], n = 0;
    for (int e = 0; e < EMOTION_COUNT; e++)
        if (e != label && e != EMO_NEUTRAL)
            choices[n++] = e;
    return choices[(int)(u * n)];
}

/* The cue of a non-dominant modality from three uniform draws. */
static cue_kind plan_minor_cue(const synth_config *cfg, int label, double u_kind, double u_emo,
                               double u_str, synth_cue *cue)
{
    double p_mis = cfg->p_misleading, p_neu = cfg->p_neutral, p_weak = cfg->p_weak;

    if (u_kind < p_mis) {
        cue->emotion = other_emotion(label, u_emo);
        cue->strength = 0.4 + 0.25 * u_str;
        return CUE_MISLEADING;
    }
    if (u_kind < p_mis + p_neu) {
        cue->emotion = EMO_NEUTRAL;
        cue->strength = 0.1 + 0.2 * u_str;
        return CUE_NEUTRAL;
    }
    cue->emotion = label;
    if (u_kind < p_mis + p_neu + p_weak) {
        cue->strength = 0.1 + 0.2 * u_str;
        return CUE_WEAK;
    }
    cue->strength = 0.3 + 0.2 * u_str;
    return CUE_AGREE;
}

/* The emotions whose faint wording a faint cue of each may take: itself and
 * its two neighbours on a ring of the six that have wording. */
static const int faint_ring[EMOTION_COUNT - 1] = {EMO_HAPPY, EMO_SURPRISE, EMO_FEAR,
                                                   EMO_SAD, EMO_DISGUST, EMO_ANGRY};

/* A faint cue is worded as faintly as it is felt: its sentence comes from
 * the faint wording of the emotion or of one of its ring neighbours, so the
 * same mild sentence stands for three emotions and says little on its own
 * (one sentence per emotion made a faint subtitle name its label as surely
 * as a strong one).  The draw comes after every other, so no later draw
 * moves. */
static int faint_wording(int e, double u)
{
    int n = EMOTION_COUNT - 1, at = 0;
    while (at < n && faint_ring[at] != e)
        at++;
    int step = (int)(u * 3) - 1; /* -1, 0 or +1 */
    return faint_ring[(at + step + n) % n];
}

static void plan_subtitle(const synth_cue *cue, uint64_t *rng, synth_clip *out)
{
    int pick = rng_below(rng, BLAND_VARIANTS);
    double u_faint = rng_uniform(rng);
    int band = strength_band(cue->strength);
    const char *text = bland_subtitle[pick];
    if (cue->emotion != EMO_NEUTRAL) {
        int worded = band == BAND_FAINT ? faint_wording(cue->emotion, u_faint) : cue->emotion;
        text = subtitle_table[worded][band][pick % SUBTITLE_VARIANTS];
    }
    snprintf(out->subtitle, sizeof out->subtitle, "%s", text);
}

static void plan_clues(synth_clip *out)
{
    const synth_cue *v = &out->cue[MOD_VISUAL], *a = &out->cue[MOD_AUDIO];
    const synth_cue *t = &out->cue[MOD_TEXT];
    char *text_clue = out->clue[MOD_TEXT];
    size_t text_size = sizeof out->clue[MOD_TEXT];

    snprintf(out->clue[MOD_VISUAL], sizeof out->clue[MOD_VISUAL], "%s",
             visual_clue[v->emotion][strength_band(v->strength)]);
    snprintf(out->clue[MOD_AUDIO], sizeof out->clue[MOD_AUDIO], "%s",
             audio_clue[a->emotion][strength_band(a->strength)]);
    if (t->emotion == EMO_NEUTRAL)
        snprintf(text_clue, text_size,
                 "The subtitle says '%.200s', which is matter-of-fact and carries no clear emotion.",
                 out->subtitle);
    else if (strength_band(t->strength) == BAND_FAINT)
        snprintf(text_clue, text_size,
                 "The subtitle says '%.200s', which only faintly suggests the speaker is %s.",
                 out->subtitle, emotion_adjective[t->emotion]);
    else
        snprintf(text_clue, text_size, "The subtitle says '%.200s', which sounds %s.", out->subtitle,
                 emotion_adjective[t->emotion]);
}

/* One clause about a non-dominant modality: "the voice is neutral". */
static void minor_clause(char *buf, size_t size, int m, cue_kind kind, int label)
{
    const char *noun = modality_noun[m];
    switch (kind) {
    case CUE_MISLEADING: /* named by no emotion: the reasoning implies the label alone */
        snprintf(buf, size, "the %s points another way, but less strongly", noun);
        break;
    case CUE_NEUTRAL:
        snprintf(buf, size, label == EMO_NEUTRAL ? "the %s is also neutral" : "the %s shows no clear emotion",
                 noun);
        break;
    case CUE_WEAK:
        snprintf(buf, size, "the %s hints at it only faintly", noun);
        break;
    default:
        snprintf(buf, size, "the %s agrees", noun);
        break;
    }
}

/* think: the dominant modality first, then the others, then the verdict. */
static void plan_think(synth_clip *out, const cue_kind kind[MODALITY_COUNT])
{
    char clause[2][128];
    int n = 0, n_mis = 0, mis = -1;
    const char *dom = modality_noun[out->dominant];

    for (int m = 0; m < MODALITY_COUNT; m++) {
        if (m == out->dominant)
            continue;
        minor_clause(clause[n++], sizeof clause[0], m, kind[m], out->label);
        if (kind[m] == CUE_MISLEADING) {
            n_mis++;
            mis = m;
        }
    }
    clause[0][0] = (char)(clause[0][0] - 'a' + 'A');

    char verdict[160];
    const char *label = emotion_name(out->label);
    if (n_mis == 2)
        snprintf(verdict, sizeof verdict,
                 "The stronger %s outweighs the other two, so the emotion is %s.", dom, label);
    else if (n_mis == 1)
        snprintf(verdict, sizeof verdict, "The stronger %s outweighs the %s, so the emotion is %s.",
                 dom, modality_noun[mis], label);
    else
        snprintf(verdict, sizeof verdict, "Nothing contradicts it, so the emotion is %s.", label);

    snprintf(out->think, sizeof out->think,
             "The %s gives the clearest cue and %s %s. %s, and %s. %s", dom,
             modality_verb[out->dominant], emotion_adjective[out->label], clause[0], clause[1],
             verdict);
}

/* think_first: `think` for every modality, except that one which shows
 * another emotion than the label -- a misleading cue, or a blank one
 * (neutral) over a label that is not -- drifts (when u < cfg->drift): the
 * describer who starts from it follows what it shows to the end. */
static void plan_drift(const synth_config *cfg, synth_clip *out, const cue_kind kind[MODALITY_COUNT],
                       double u)
{
    for (int m = 0; m < MODALITY_COUNT; m++) {
        const char *seen = emotion_adjective[out->cue[m].emotion];
        int astray = (kind[m] == CUE_MISLEADING || kind[m] == CUE_NEUTRAL) && out->cue[m].emotion != out->label;
        if (!astray || !(u < cfg->drift)) {
            snprintf(out->think_first[m], sizeof out->think_first[m], "%s", out->think);
            continue;
        }
        out->drifted |= 1u << m;
        snprintf(out->think_first[m], sizeof out->think_first[m],
                 "The %s gives the first cue and %s %s. The rest of the clip fits that reading, "
                 "so the person seems %s.", modality_noun[m], modality_verb[m], seen, seen);
    }
}

void synth_plan(const synth_config *cfg, uint64_t seed, int index, synth_clip *out)
{
    uint64_t rng = rng_stream(seed, index, SYNTH_STREAM_PLAN);
    cue_kind kind[MODALITY_COUNT];

    memset(out, 0, sizeof *out);
    out->index = index;
    out->label = rng_below(&rng, EMOTION_COUNT);
    out->dominant = pick_dominant(cfg, rng_uniform(&rng));
    /* Three draws per modality whatever its role, so the dominant choice or a
     * rate never shifts the draws of the modalities after it. */
    for (int m = 0; m < MODALITY_COUNT; m++) {
        double u[3];
        for (int i = 0; i < 3; i++)
            u[i] = rng_uniform(&rng);
        if (m == out->dominant) {
            out->cue[m].emotion = out->label;
            out->cue[m].strength = cfg->dominant_strength_min +
                                   (cfg->dominant_strength_max - cfg->dominant_strength_min) * u[2];
            kind[m] = CUE_DOMINANT;
        } else {
            kind[m] = plan_minor_cue(cfg, out->label, u[0], u[1], u[2], &out->cue[m]);
        }
    }
    snprintf(out->file, sizeof out->file, "clip_%06d.mp4", index);
    plan_subtitle(&out->cue[MOD_TEXT], &rng, out);
    plan_clues(out);
    plan_think(out, kind);
    /* Its own stream: the drift rate never shifts any other draw. */
    uint64_t drift_rng = rng_stream(seed, index, SYNTH_STREAM_DRIFT);
    plan_drift(cfg, out, kind, rng_uniform(&drift_rng));
}
