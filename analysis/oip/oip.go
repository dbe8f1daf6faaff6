// Package oip is the analyzer that delegates to a model server speaking the
// Open Inference Protocol. It registers itself as "oip" with its settings
// analysis.oip.url, .model and .timeout.
package oip

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"aura/analysis"
	"aura/fault"
)

// Name is the analyzer's name in results and configuration.
const Name = "oip"

func init() {
	analysis.Register(Name, func(s analysis.Settings) (analysis.Analyzer, error) {
		return New(s.String("url"), s.String("model"), s.Duration("timeout"))
	})
}

// Analyzer is the analyzer that asks a model server speaking the Open Inference
// Protocol (v2 REST: KServe, Triton) at URL for model Model.
//
// Request: POST {URL}/v2/models/{Model}/infer with one BYTES input "image"
// holding the photograph as uploaded (base64 in the JSON body): the file is
// forwarded, never decoded here.
// Response outputs, by name (any may be missing except the metrics):
// "vessel_density", "fractal_dimension", "tortuosity",
// "mean_vessel_width_px" (FP32/FP64, one value each), "quality" (0..1),
// "gradable" (BOOL), "confidence" (0..1), and "vessel_map" (BYTES, a PNG
// of the image's size, base64). A 4xx answer is a permanent failure, except
// 408 and 429, which say "later". A refused connection, 502, 503, 504 and
// 429 are an outage of the model server (fault.Outage: waited out without
// using up attempts); a timeout, 408 and any other 5xx are retried by the
// queue, counting attempts.
type Analyzer struct {
	URL, Model string
	Client     *http.Client
}

// New checks the settings and builds the client.
func New(rawURL, model string, timeout time.Duration) (*Analyzer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("analysis.oip.url (AURA_ANALYSIS_OIP_URL): must be an http(s) URL")
	}
	if model == "" || strings.ContainsAny(model, "/?#") {
		return nil, errors.New("analysis.oip.model (AURA_ANALYSIS_OIP_MODEL): must be a model name")
	}
	if timeout <= 0 {
		return nil, errors.New("analysis.oip.timeout (AURA_ANALYSIS_OIP_TIMEOUT): must be positive")
	}
	return &Analyzer{URL: strings.TrimRight(rawURL, "/"), Model: model, Client: &http.Client{Timeout: timeout}}, nil
}

// Name is "oip".
func (o *Analyzer) Name() string { return Name }

type oipTensor struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	Datatype string `json:"datatype"`
	Data     []any  `json:"data"`
}

// Analyze sends the file and reads the model's outputs.
func (o *Analyzer) Analyze(ctx context.Context, im analysis.Image) (*analysis.Result, error) {
	body, _ := json.Marshal(map[string]any{
		"inputs":     []oipTensor{{Name: "image", Shape: []int{1}, Datatype: "BYTES", Data: []any{base64.StdEncoding.EncodeToString(im.Bytes)}}},
		"parameters": map[string]any{"content_type": im.ContentType},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL+"/v2/models/"+url.PathEscape(o.Model)+"/infer", bytes.NewReader(body))
	if err != nil {
		return nil, fault.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := o.Client.Do(req)
	if err != nil {
		err = fmt.Errorf("model server unreachable: %w", err)
		var ne net.Error
		if ctx.Err() == nil && !(errors.As(err, &ne) && ne.Timeout()) {
			// Refused, reset, no route: the server is not there. An outage,
			// waited out; a timeout may be this image's doing and counts.
			return nil, fault.Outage("model server", err)
		}
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("model server answer: %w", err)
	}
	switch {
	case res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusServiceUnavailable ||
		res.StatusCode == http.StatusGatewayTimeout || res.StatusCode == http.StatusTooManyRequests:
		// Not there, overloaded or rate-limiting: an outage, waited out.
		return nil, fault.Outage("model server", fmt.Errorf("model server: %s", res.Status))
	case res.StatusCode >= 500 || res.StatusCode == http.StatusRequestTimeout:
		// Failed or timed out on this image: retried, counting attempts.
		return nil, fmt.Errorf("model server: %s", res.Status)
	case res.StatusCode >= 400:
		return nil, fault.Permanent(fmt.Errorf("model server refused the image: %s: %.200s", res.Status, raw))
	}
	var out struct {
		ModelVersion string      `json:"model_version"`
		Outputs      []oipTensor `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fault.Permanent(fmt.Errorf("model server answer is not OIP JSON: %w", err))
	}
	return decodeOIP(o.Model, out.ModelVersion, out.Outputs, im)
}

// maxMapPixels bounds a vessel map when the photograph's size is not known
// (an upload's own limit).
const maxMapPixels = 40_000_000

// decodeOIP reads the outputs. A vessel_map must be a PNG of the
// photograph's size (im.Size: the upload's record or the file's header; at
// most maxMapPixels when that is unknown), checked from its header before
// any pixel is decoded: a tiny answer claiming 60000×60000 pixels would
// otherwise allocate gigabytes.
func decodeOIP(model, version string, outs []oipTensor, im analysis.Image) (*analysis.Result, error) {
	num := map[string]float64{}
	var gradable *bool
	var mapPNG string
	for _, t := range outs {
		if len(t.Data) == 0 {
			continue
		}
		switch v := t.Data[0].(type) {
		case float64:
			num[t.Name] = v
		case bool:
			gradable = &v
		case string:
			if t.Name == "vessel_map" {
				mapPNG = v
			}
		}
	}
	m := &analysis.Metrics{}
	for name, dst := range map[string]*float64{"vessel_density": &m.VesselDensity, "fractal_dimension": &m.FractalDimension,
		"tortuosity": &m.Tortuosity, "mean_vessel_width_px": &m.MeanVesselWidthPx} {
		v, ok := num[name]
		if !ok {
			return nil, fault.Permanent(fmt.Errorf("model server answer lacks output %q", name))
		}
		*dst = v
	}
	res := &analysis.Result{Analyzer: Name, Version: strings.TrimSpace(model + " " + version), Gradable: true, Metrics: m}
	if gradable != nil {
		res.Gradable = *gradable
	}
	if q, ok := num["quality"]; ok {
		res.Quality = q
	} else {
		res.Quality = 1
	}
	if c, ok := num["confidence"]; ok {
		res.Confidence = &c
	}
	if !res.Gradable {
		res.Metrics, res.Confidence = nil, nil
	}
	if mapPNG != "" {
		b, err := base64.StdEncoding.DecodeString(mapPNG)
		if err != nil {
			return nil, fault.Permanent(fmt.Errorf("vessel_map is not base64: %w", err))
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return nil, fault.Permanent(fmt.Errorf("vessel_map is not a PNG: %w", err))
		}
		w, h, sizeErr := im.Size()
		switch {
		case sizeErr == nil && (cfg.Width != w || cfg.Height != h):
			return nil, fault.Permanent(fmt.Errorf("vessel_map is %d×%d, the image %d×%d", cfg.Width, cfg.Height, w, h))
		case int64(cfg.Width)*int64(cfg.Height) > maxMapPixels:
			return nil, fault.Permanent(fmt.Errorf("vessel_map is %d×%d, over %d pixels", cfg.Width, cfg.Height, maxMapPixels))
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fault.Permanent(fmt.Errorf("vessel_map is not an image: %w", err))
		}
		gray, ok := img.(*image.Gray)
		if !ok {
			gray = image.NewGray(img.Bounds())
			for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
				for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
					gray.Set(x, y, img.At(x, y))
				}
			}
		}
		res.VesselMap = gray
	}
	return res, nil
}
