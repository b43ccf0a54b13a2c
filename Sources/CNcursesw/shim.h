#ifndef CNCURSESW_SHIM_H
#define CNCURSESW_SHIM_H
/* Without these, curses.h leaves out the wide-character calls (add_wch, get_wch, cchar_t). */
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>

/* Macros and variables Swift cannot reach directly. */
static inline int cncurses_lines(void) { return LINES; }
static inline int cncurses_cols(void) { return COLS; }
static inline int cncurses_color_pairs(void) { return COLOR_PAIRS; }
static inline int cncurses_colors(void) { return COLORS; }
static inline attr_t cncurses_color_pair(short pair) { return COLOR_PAIR(pair); }
static inline attr_t cncurses_bold(void) { return A_BOLD; }
static inline attr_t cncurses_underline(void) { return A_UNDERLINE; }
static inline attr_t cncurses_reverse(void) { return A_REVERSE; }
static inline attr_t cncurses_dim(void) { return A_DIM; }
static inline WINDOW *cncurses_stdscr(void) { return stdscr; }
static inline int cncurses_key_resize(void) { return KEY_RESIZE; }
static inline int cncurses_put(int y, int x, const wchar_t *text, attr_t attributes, short pair) {
    attr_set(attributes, pair, NULL);
    return mvaddwstr(y, x, text);
}
#endif
