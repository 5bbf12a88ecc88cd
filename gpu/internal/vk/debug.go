//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package vk

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ValidateEnv names the environment variable that enables the Khronos
// validation layer ("1"; "sync" adds its synchronization validation).
const ValidateEnv = "BITNET_VK_VALIDATE"

// ValidationLayer is the layer enabled for validation.
const ValidationLayer = "VK_LAYER_KHRONOS_validation"

// DebugUtilsExtension is the instance extension behind the messenger.
const DebugUtilsExtension = "VK_EXT_debug_utils"

// ValidationRequested reports whether BITNET_VK_VALIDATE is 1 or sync.
func ValidationRequested() bool { v := os.Getenv(ValidateEnv); return v == "1" || v == "sync" }

// SyncValidationRequested reports whether BITNET_VK_VALIDATE=sync.
func SyncValidationRequested() bool { return os.Getenv(ValidateEnv) == "sync" }

var (
	messages      atomic.Int64
	errorMessages atomic.Int64
	callbackOnce  sync.Once
	callbackPtr   uintptr
)

// MessageCount is the number of debug messages (validation warnings and
// errors) received since the process started; tests assert that it does not
// grow.
func MessageCount() int64 { return messages.Load() }

// ErrorMessageCount counts the messages of error severity among them.
func ErrorMessageCount() int64 { return errorMessages.Load() }

// debugCallback is the one PFN_vkDebugUtilsMessengerCallbackEXT of the
// process (purego callbacks are never freed). Arguments are uintptr-sized
// as purego requires; the enums are in the low 32 bits.
func debugCallback(severity, types uintptr, data unsafe.Pointer, _ unsafe.Pointer) uintptr {
	sev := uint32(severity)
	messages.Add(1)
	level := slog.LevelWarn
	switch {
	case sev&DebugUtilsMessageSeverityErrorBitEXT != 0:
		level = slog.LevelError
		errorMessages.Add(1)
	case sev&DebugUtilsMessageSeverityWarningBitEXT != 0:
		level = slog.LevelWarn
	case sev&DebugUtilsMessageSeverityInfoBitEXT != 0:
		level = slog.LevelInfo
	default:
		level = slog.LevelDebug
	}
	var id, msg string
	if data != nil {
		cd := (*DebugUtilsMessengerCallbackDataEXT)(data)
		id = GoString(cd.PMessageIdName)
		msg = GoString(cd.PMessage)
	}
	kind := "general"
	switch t := uint32(types); {
	case t&DebugUtilsMessageTypeValidationBitEXT != 0:
		kind = "validation"
	case t&DebugUtilsMessageTypePerformanceBitEXT != 0:
		kind = "performance"
	}
	slog.Log(context.Background(), level, "vulkan: "+msg, "type", kind, "id", id)
	return 0 // VK_FALSE: do not abort the call
}

func messengerCallback() uintptr {
	callbackOnce.Do(func() { callbackPtr = purego.NewCallback(debugCallback) })
	return callbackPtr
}

// MessengerCreateInfo returns the create info of a messenger that routes
// warnings and errors (and info with verbose) to log/slog through the
// package's single callback. Chain it into InstanceCreateInfo to cover
// vkCreateInstance and vkDestroyInstance too.
func MessengerCreateInfo(verbose bool) *DebugUtilsMessengerCreateInfoEXT {
	sev := uint32(DebugUtilsMessageSeverityWarningBitEXT | DebugUtilsMessageSeverityErrorBitEXT)
	if verbose {
		sev |= DebugUtilsMessageSeverityInfoBitEXT | DebugUtilsMessageSeverityVerboseBitEXT
	}
	return &DebugUtilsMessengerCreateInfoEXT{
		SType:           StructureTypeDebugUtilsMessengerCreateInfoEXT,
		MessageSeverity: sev,
		MessageType: DebugUtilsMessageTypeGeneralBitEXT | DebugUtilsMessageTypeValidationBitEXT |
			DebugUtilsMessageTypePerformanceBitEXT,
		PfnUserCallback: messengerCallback(),
	}
}
