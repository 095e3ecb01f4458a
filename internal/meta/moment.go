package meta

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// This file ports moment.js's format() for the English locale, as
// metadata-action's {{date}} and {{commit_date}} expressions call it on a
// moment-timezone moment.

var (
	// momentTokens is moment's formattingTokens expression.
	momentTokens = regexp.MustCompile(`(\[[^\[]*\])|(\\)?([Hh]mm(ss)?|Mo|MM?M?M?|Do|DDDo|DD?D?D?|ddd?d?|do?|w[o|w]?|W[o|W]?|Qo?|N{1,5}|YYYYYY|YYYYY|YYYY|YY|y{2,4}|yo?|gg(ggg?)?|GG(GGG?)?|e|E|a|A|hh?|HH?|kk?|mm?|ss?|S{1,9}|x|X|zz?|ZZ?|.)`)
	// momentLocalTokens is moment's localFormattingTokens expression.
	momentLocalTokens = regexp.MustCompile(`(\[[^\[]*\])|(\\)?(LTS|LT|LL?L?L?|l{1,4})`)
	momentLongFormats = map[string]string{
		"LTS": "h:mm:ss A", "LT": "h:mm A", "L": "MM/DD/YYYY", "LL": "MMMM D, YYYY",
		"LLL": "MMMM D, YYYY h:mm A", "LLLL": "dddd, MMMM D, YYYY h:mm A",
		"l": "M/D/YYYY", "ll": "MMM D, YYYY", "lll": "MMM D, YYYY h:mm A", "llll": "ddd, MMM D, YYYY h:mm A",
	}
	momentWeekdaysMin = []string{"Su", "Mo", "Tu", "We", "Th", "Fr", "Sa"}
)

// momentDefaultFormat is moment.defaultFormat; momentDefaultFormatUTC is
// used when the moment is in UTC with a zero offset.
const (
	momentDefaultFormat    = "YYYY-MM-DDTHH:mm:ssZ"
	momentDefaultFormatUTC = "YYYY-MM-DDTHH:mm:ss[Z]"
)

// momentFormat is moment(t).format(format) in t's location.
func momentFormat(t time.Time, format string) string {
	if format == "" {
		format = momentDefaultFormat
		if _, off := t.Zone(); off == 0 {
			format = momentDefaultFormatUTC
		}
	}
	// expandFormat: long date formats, up to 5 levels deep.
	for i := 0; i < 5 && momentLocalTokens.MatchString(format); i++ {
		format = momentLocalTokens.ReplaceAllStringFunc(format, func(tok string) string {
			if f, ok := momentLongFormats[tok]; ok {
				return f
			}
			return tok
		})
	}
	var b strings.Builder
	for _, tok := range momentTokens.FindAllString(format, -1) {
		if s, ok := momentToken(t, tok); ok {
			b.WriteString(s)
			continue
		}
		// removeFormattingTokens
		if strings.HasPrefix(tok, "[") && len(tok) > 1 {
			tok = strings.TrimSuffix(tok[1:], "]")
		} else {
			tok = strings.ReplaceAll(tok, `\`, "")
		}
		b.WriteString(tok)
	}
	return b.String()
}

// momentToken renders one formatting token; ok is false for text that is
// not a token.
func momentToken(t time.Time, tok string) (string, bool) {
	year := t.Year()
	switch tok {
	case "M":
		return strconv.Itoa(int(t.Month())), true
	case "Mo":
		return ordinal(int(t.Month())), true
	case "MM":
		return zeroFill(int(t.Month()), 2, false), true
	case "MMM":
		return t.Month().String()[:3], true
	case "MMMM":
		return t.Month().String(), true
	case "Q":
		return strconv.Itoa((int(t.Month()) + 2) / 3), true
	case "Qo":
		return ordinal((int(t.Month()) + 2) / 3), true
	case "D":
		return strconv.Itoa(t.Day()), true
	case "Do":
		return ordinal(t.Day()), true
	case "DD":
		return zeroFill(t.Day(), 2, false), true
	case "DDD":
		return strconv.Itoa(t.YearDay()), true
	case "DDDo":
		return ordinal(t.YearDay()), true
	case "DDDD":
		return zeroFill(t.YearDay(), 3, false), true
	case "d", "e":
		return strconv.Itoa(int(t.Weekday())), true
	case "do":
		return ordinal(int(t.Weekday())), true
	case "dd":
		return momentWeekdaysMin[t.Weekday()], true
	case "ddd":
		return t.Weekday().String()[:3], true
	case "dddd":
		return t.Weekday().String(), true
	case "E":
		return strconv.Itoa((int(t.Weekday())+6)%7 + 1), true
	case "w", "wo", "ww", "gg", "gggg", "ggggg":
		week, wy := weekOfYear(t, 0, 6) // en: weeks start on Sunday
		return momentWeekToken(tok, week, wy), true
	case "W", "Wo", "WW", "GG", "GGGG", "GGGGG":
		week, wy := weekOfYear(t, 1, 4) // ISO 8601
		return momentWeekToken(strings.ToLower(tok), week, wy), true
	case "YY", "yy":
		return zeroFill(year%100, 2, false), true
	case "YYYY", "yyyy":
		return zeroFill(year, 4, false), true
	case "YYYYY":
		return zeroFill(year, 5, false), true
	case "YYYYYY":
		return zeroFill(year, 6, true), true
	case "y":
		return strconv.Itoa(year), true
	case "yo":
		return ordinal(year), true
	case "yyy":
		return zeroFill(year, 3, false), true
	case "N", "NN", "NNN", "NNNNN":
		return "AD", true
	case "NNNN":
		return "Anno Domini", true
	case "a", "A":
		m := "am"
		if t.Hour() > 11 {
			m = "pm"
		}
		if tok == "A" {
			m = strings.ToUpper(m)
		}
		return m, true
	case "H":
		return strconv.Itoa(t.Hour()), true
	case "HH":
		return zeroFill(t.Hour(), 2, false), true
	case "h":
		return strconv.Itoa(hour12(t)), true
	case "hh":
		return zeroFill(hour12(t), 2, false), true
	case "k":
		return strconv.Itoa(hour24(t)), true
	case "kk":
		return zeroFill(hour24(t), 2, false), true
	case "hmm", "hmmss", "Hmm", "Hmmss":
		h := hour12(t)
		if tok[0] == 'H' {
			h = t.Hour()
		}
		s := strconv.Itoa(h) + zeroFill(t.Minute(), 2, false)
		if strings.HasSuffix(tok, "ss") {
			s += zeroFill(t.Second(), 2, false)
		}
		return s, true
	case "m":
		return strconv.Itoa(t.Minute()), true
	case "mm":
		return zeroFill(t.Minute(), 2, false), true
	case "s":
		return strconv.Itoa(t.Second()), true
	case "ss":
		return zeroFill(t.Second(), 2, false), true
	case "X":
		return strconv.FormatInt(int64(math.Floor(float64(t.UnixMilli())/1000)), 10), true
	case "x":
		return strconv.FormatInt(t.UnixMilli(), 10), true
	case "z", "zz":
		name, _ := t.Zone()
		return name, true
	case "Z", "ZZ":
		_, off := t.Zone()
		sep := ":"
		if tok == "ZZ" {
			sep = ""
		}
		sign := "+"
		if off < 0 {
			sign, off = "-", -off
		}
		return sign + zeroFill(off/3600, 2, false) + sep + zeroFill(off/60%60, 2, false), true
	}
	if tok != "" && strings.Trim(tok, "S") == "" { // S to SSSSSSSSS: fractions of a second
		ms := t.Nanosecond() / int(time.Millisecond)
		switch len(tok) {
		case 1:
			return strconv.Itoa(ms / 100), true
		case 2:
			return zeroFill(ms/10, 2, false), true
		default:
			return zeroFill(ms*int(math.Pow10(len(tok)-3)), len(tok), false), true
		}
	}
	return "", false
}

func momentWeekToken(tok string, week, weekYear int) string {
	switch tok {
	case "w":
		return strconv.Itoa(week)
	case "wo":
		return ordinal(week)
	case "ww":
		return zeroFill(week, 2, false)
	case "gg":
		return zeroFill(weekYear%100, 2, false)
	case "gggg":
		return zeroFill(weekYear, 4, false)
	default: // ggggg
		return zeroFill(weekYear, 5, false)
	}
}

func hour12(t time.Time) int {
	if h := t.Hour() % 12; h != 0 {
		return h
	}
	return 12
}

func hour24(t time.Time) int {
	if h := t.Hour(); h != 0 {
		return h
	}
	return 24
}

// zeroFill is moment's zeroFill(number, targetLength, forceSign).
func zeroFill(n, width int, forceSign bool) string {
	abs := strconv.Itoa(n)
	sign := ""
	if n < 0 {
		abs, sign = abs[1:], "-"
	} else if forceSign {
		sign = "+"
	}
	if pad := width - len(abs); pad > 0 {
		abs = strings.Repeat("0", pad) + abs
	}
	return sign + abs
}

// ordinal is the English locale's ordinal: 1st, 2nd, 3rd, 4th, 11th...
func ordinal(n int) string {
	suffix := "th"
	if (n%100)/10 != 1 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// weekOfYear is moment's weekOfYear(mom, dow, doy): the week and week-year
// of t for weeks starting on day dow whose first week contains January
// (7+dow-doy).
func weekOfYear(t time.Time, dow, doy int) (week, year int) {
	year = t.Year()
	offset := firstWeekOffset(year, dow, doy)
	week = int(math.Floor(float64(t.YearDay()-offset-1)/7)) + 1
	switch {
	case week < 1:
		year--
		week += weeksInYear(year, dow, doy)
	case week > weeksInYear(year, dow, doy):
		week -= weeksInYear(year, dow, doy)
		year++
	}
	return week, year
}

func firstWeekOffset(year, dow, doy int) int {
	fwd := 7 + dow - doy
	fwdlw := (7 + int(time.Date(year, time.January, fwd, 0, 0, 0, 0, time.UTC).Weekday()) - dow) % 7
	return -fwdlw + fwd - 1
}

func weeksInYear(year, dow, doy int) int {
	days := 365
	if time.Date(year, time.December, 31, 0, 0, 0, 0, time.UTC).YearDay() == 366 {
		days = 366
	}
	return (days - firstWeekOffset(year, dow, doy) + firstWeekOffset(year+1, dow, doy)) / 7
}
