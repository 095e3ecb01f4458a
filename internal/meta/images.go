package meta

import (
	"fmt"
	"strings"
)

// This file ports src/image.ts: the `images` input.

// image is one entry of the images input.
type image struct {
	name   string
	enable bool
}

// parseImages parses the images input (image.ts Transform). A single
// entry made only of names ("a,b") is the old format: one image per
// field.
func parseImages(entries []string) ([]image, error) {
	if len(entries) == 1 {
		fields, err := splitFields(entries[0], false)
		if err != nil {
			return nil, fmt.Errorf("parsing image %q: %w", entries[0], err)
		}
		var images []image
		for _, field := range fields {
			if strings.Contains(field, "=") {
				images = nil
				break
			}
			images = append(images, image{name: jsTrim(field), enable: true})
		}
		for _, img := range images {
			if img.name == "" {
				return nil, fmt.Errorf("empty image name in %q (expected name=<image> or <image>)", entries[0])
			}
		}
		if images != nil {
			return images, nil
		}
	}
	images := make([]image, 0, len(entries))
	for _, entry := range entries {
		img, err := parseImage(entry)
		if err != nil {
			return nil, err
		}
		images = append(images, img)
	}
	return images, nil
}

// parseImage parses one name=...,enable=... entry.
func parseImage(entry string) (image, error) {
	img := image{enable: true}
	fields, err := splitFields(entry, false)
	if err != nil {
		return img, fmt.Errorf("parsing image %q: %w", entry, err)
	}
	for _, field := range fields {
		// image.ts splits on every "=" and keeps the second piece.
		parts := strings.Split(field, "=")
		if len(parts) == 1 {
			img.name = jsTrim(parts[0])
			continue
		}
		key, value := strings.ToLower(jsTrim(parts[0])), jsTrim(parts[1])
		switch key {
		case "name":
			img.name = value
		case "enable":
			if value != "true" && value != "false" {
				return img, fmt.Errorf("invalid enable %q in image %q (expected true or false)", value, entry)
			}
			img.enable = value == "true"
		default:
			return img, fmt.Errorf("unknown attribute %q in image %q (expected name or enable)", key, entry)
		}
	}
	if img.name == "" {
		return img, fmt.Errorf("empty image name in %q (expected name=<image> or <image>)", entry)
	}
	return img, nil
}

// sanitizeImageName lower-cases an image name.
func sanitizeImageName(name string) string { return strings.ToLower(name) }
