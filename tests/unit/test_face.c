/* test_face.c -- the face window and the frames taken on it. */
#include "check.h"

#include <string.h>

#include "media/face.h"

enum { H = 24, W = 32, T = 2 };

/* A 0.9 square of side 8 with its top-left pixel at (top, left) on a 0.1
 * background; in frame 1 its pixel (2, 5) of the square is 0.5. */
static void square(float *frames, int top, int left)
{
    for (int t = 0; t < T; t++)
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                int in = r >= top && r < top + 8 && c >= left && c < left + 8;
                int mark = t == 1 && r == top + 2 && c == left + 5;
                frames[(t * H + r) * W + c] = mark ? 0.5f : in ? 0.9f : 0.1f;
            }
}

TEST(face_window_is_the_square_of_the_bright_area_on_its_centroid)
{
    static float frames[T * H * W];
    square(frames, 5, 11);
    media_features f = {.n_frames = T, .height = H, .width = W, .frames = frames};
    face_window win = face_find(&f);
    CHECK_NEAR(11.0, win.x0, 1e-9);
    CHECK_NEAR(5.0, win.y0, 1e-9);
    CHECK_NEAR(8.0, win.width, 1e-9);
    CHECK_NEAR(8.0, win.height, 1e-9);
}

TEST(face_window_of_a_flat_mean_frame_is_the_whole_frame)
{
    static float frames[T * H * W];
    for (int i = 0; i < H * W; i++) {
        frames[i] = (float)(i % 4) / 4;
        frames[H * W + i] = 1.0f - frames[i];
    }
    media_features f = {.n_frames = T, .height = H, .width = W, .frames = frames};
    face_window win = face_find(&f);
    CHECK(win.x0 == 0 && win.y0 == 0 && win.width == W && win.height == H);
    static float out[T * H * W];
    face_frames(&f, out);
    CHECK_INT(0, memcmp(frames, out, sizeof out));
}

/* Wherever the face sits, the frames taken on it are the same; the mark
 * of frame 1 lands where its place in the square says. */
TEST(face_frames_are_the_same_wherever_the_face_sits)
{
    static float a[T * H * W], b[T * H * W], fa[T * H * W], fb[T * H * W];
    square(a, 5, 11);
    square(b, 13, 2);
    media_features f = {.n_frames = T, .height = H, .width = W, .frames = a};
    face_frames(&f, fa);
    f.frames = b;
    face_frames(&f, fb);
    int same = 0;
    for (int i = 0; i < T * H * W; i++)
        same += fa[i] > fb[i] - 1e-6f && fa[i] < fb[i] + 1e-6f;
    CHECK_INT(T * H * W, same);
    /* The window's 8 pixels span the 24 rows and 32 columns: output row 7
     * samples the centre row of the square's row 2, and columns 21 and 22
     * sample 3/8 of a pixel either side of the centre of its column 5, so
     * they mix the mark with its neighbour 7 : 1 -- (7 0.5 + 0.9) / 8. */
    CHECK_NEAR(0.55, fa[(H + 7) * W + 21], 1e-6);
    CHECK_NEAR(0.55, fa[(H + 7) * W + 22], 1e-6);
    CHECK_NEAR(0.9, fa[(0 + 7) * W + 21], 1e-6);
}

TEST(face_sample_interpolates_between_pixel_centres_and_holds_the_edges)
{
    const float frame[2 * 2] = {0.0f, 1.0f, 2.0f, 3.0f};
    CHECK_NEAR(0.0, face_sample(frame, 2, 2, 0.5, 0.5), 1e-12);
    CHECK_NEAR(1.5, face_sample(frame, 2, 2, 1.0, 1.0), 1e-12);
    CHECK_NEAR(0.5, face_sample(frame, 2, 2, 1.0, 0.2), 1e-12);
    CHECK_NEAR(3.0, face_sample(frame, 2, 2, 5.0, 9.0), 1e-12);
    CHECK_NEAR(0.0, face_sample(frame, 2, 2, -3.0, -1.0), 1e-12);
}
